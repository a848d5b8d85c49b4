"""The config's raw schema in the forms the libraries want.

Raw record batches use TFXIO's layout: every column is a
`large_list<value>` (one value per row for scalars), strings are
`large_binary`, floats `float32`, ints `int64`. That is what tfx-bsl's
tf.Example decoder produces and what its TensorAdapter turns into tensors.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import schema_utils
from tfx_bsl.public import tfxio

from pipeline.config import Column, Config

# A bool column is read as int64 0/1 (docs/config.md "Every key"): TF hashes and
# crosses int64, and tf.Example has no bool list.
ARROW_VALUE_TYPES = {"string": pa.large_binary(), "int": pa.int64(), "float": pa.float32(),
                     "bool": pa.int64()}
TF_DTYPES = {"string": tf.string, "int": tf.int64, "float": tf.float32, "bool": tf.int64}


def raw_feature_spec(config: Config, *, with_defaults: bool = False) -> dict:
    """tf.io feature spec of the raw columns; defaults only where parsing needs them."""
    spec = {}
    for column in config.schema.values():
        dtype = TF_DTYPES[column.type]
        if column.is_sequence:
            spec[column.name] = tf.io.VarLenFeature(dtype)
        elif with_defaults and column.has_default:
            spec[column.name] = tf.io.FixedLenFeature([], dtype, default_value=column.default)
        else:
            spec[column.name] = tf.io.FixedLenFeature([], dtype)
    return spec


def raw_schema_proto(config: Config) -> schema_pb2.Schema:
    return schema_utils.schema_from_feature_spec(raw_feature_spec(config))


def raw_arrow_schema(config: Config) -> pa.Schema:
    return pa.schema([pa.field(c.name, pa.large_list(ARROW_VALUE_TYPES[c.type]))
                      for c in config.schema.values()])


def tensor_adapter_config(config: Config) -> tfxio.TensorAdapterConfig:
    """How tf.Transform and our transform step turn raw batches into tensors."""
    representations = {}
    for column in config.schema.values():
        representation = schema_pb2.TensorRepresentation()
        if column.is_sequence:
            representation.varlen_sparse_tensor.column_name = column.name
        else:
            representation.dense_tensor.column_name = column.name
        representations[column.name] = representation
    return tfxio.TensorAdapterConfig(raw_arrow_schema(config), representations)


def column_value_type(column: Column) -> pa.DataType:
    return ARROW_VALUE_TYPES[column.type]


def as_lists(values: pa.Array | np.ndarray, lengths: np.ndarray) -> pa.LargeListArray:
    """`values` cut into one list per row, row i holding `lengths[i]` of them."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if isinstance(values, np.ndarray):
        values = pa.array(values, pa.large_binary() if values.dtype == object else None)
    return pa.LargeListArray.from_arrays(pa.array(offsets), values)

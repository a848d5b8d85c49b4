"""The shape of the transformed outputs, known from the config alone.

The pipeline needs the output layout before analysis has run (the Parquet
writer takes its schema up front), so it is derived here from the config and
checked against the exported graph's own `transformed_feature_spec()`.
"""

from __future__ import annotations

import pyarrow as pa
import tensorflow as tf

from pipeline.config import Config, Feature, UnknownKindError
from pipeline.transform.raw_specs import TF_DTYPES


def sparse_keys(name: str) -> tuple[str, str]:
    """Column names tf.Transform gives the indices and values of a sparse output."""
    return f"{name}$sparse_indices_0", f"{name}$sparse_values"


def output_feature_spec(config: Config) -> dict:
    """The tf.io feature spec of the outputs, as tf.Transform will record it."""
    spec = {}
    for name in config.keep:
        column = config.schema[name]
        dtype = TF_DTYPES[column.type]
        spec[name] = (tf.io.VarLenFeature(dtype) if column.is_sequence
                      else tf.io.FixedLenFeature([], dtype))
    for feature in config.features:
        spec[feature.name] = _feature_spec(feature)
    return spec


def _feature_spec(feature: Feature):
    if feature.kind == "product":
        return tf.io.FixedLenFeature([], tf.float32)
    if feature.kind == "polynomial":
        return tf.io.FixedLenFeature([len(feature.polynomial_terms())], tf.float32)
    if not feature.is_categorical:
        raise UnknownKindError(feature, "output_feature_spec")
    if feature.output == "int":
        return (tf.io.VarLenFeature(tf.int64) if feature.is_sequence
                else tf.io.FixedLenFeature([], tf.int64))
    if feature.sparse:
        index_key, value_key = sparse_keys(feature.name)
        return tf.io.SparseFeature([index_key], value_key, tf.float32, [feature.width],
                                   already_sorted=True)
    return tf.io.FixedLenFeature([feature.width], tf.float32)


_ARROW_TYPES = {tf.int64: pa.int64(), tf.float32: pa.float32(), tf.string: pa.large_binary()}


def output_columns(spec: dict) -> list[tuple[str, pa.DataType, bool]]:
    """(column, value type, is_scalar) per stored column, in spec order.

    A sparse feature is stored as two list columns, its indices and values.
    """
    columns = []
    for name, feature_spec in spec.items():
        if isinstance(feature_spec, tf.io.SparseFeature):
            columns.append((feature_spec.index_key[0], pa.int64(), False))
            columns.append((feature_spec.value_key, pa.float32(), False))
        else:
            scalar = (isinstance(feature_spec, tf.io.FixedLenFeature)
                      and not feature_spec.shape)
            columns.append((name, _ARROW_TYPES[feature_spec.dtype], scalar))
    return columns


def list_layout_schema(spec: dict) -> pa.Schema:
    """Every column a list (TFXIO's layout); what the tf.Example encoder takes."""
    return pa.schema([pa.field(name, pa.large_list(value_type))
                      for name, value_type, _ in output_columns(spec)])


def parquet_schema(spec: dict) -> pa.Schema:
    """Scalars as plain columns, everything else as lists: natural for pyarrow users.

    Strings (`keep:` columns) are UTF-8 strings, not bytes, so pandas gives `str`
    (docs/outputs.md "Reading the outputs").
    """
    fields = []
    for name, value_type, scalar in output_columns(spec):
        if value_type == pa.large_binary():
            value_type = pa.large_string()
        fields.append(pa.field(name, value_type if scalar else pa.large_list(value_type)))
    return pa.schema(fields)


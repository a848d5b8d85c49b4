"""Exports `serving/`: raw serialized tf.Examples in, transformed features out.

The SavedModel wraps the run's own transform graph (tf.Transform's
`transform_features_layer`), so serving computes exactly what the batch job
wrote. It is self-contained: it loads without the project, the config or
`transform_fn/`.

Signature `serving_default`:
  input  `examples`: string `[batch]`, serialized tf.Example with raw columns;
  only the columns some feature reads are required (docs/outputs.md "The
  serving model"); missing values (an absent feature, an empty value list, a
  NaN float) follow the batch job's policy (docs/config.md "Missing and
  invalid values").
  output per dense feature `NAME`: its tensor (`[batch]` or `[batch, width]`);
  per sparse feature (sequence ids, sparse one_hot/multi_hot) three tensors,
  the parts of a tf.SparseTensor: `NAME$indices` int64 `[n, 2]`,
  `NAME$values` `[n]`, `NAME$dense_shape` int64 `[2]`.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import Column, Config
from pipeline.io.pause_points import pause_point
from pipeline.transform.raw_specs import TF_DTYPES

SIGNATURE = "serving_default"


class ServingModule(tf.Module):
    def __init__(self, transform_output: tft.TFTransformOutput, config: Config) -> None:
        super().__init__()
        self.transform_layer = transform_output.transform_features_layer()
        self.config = config

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)  # straight-line code: nothing for autograph to convert
    def serve(self, examples: tf.Tensor) -> dict:
        return flatten_outputs(self.transform_layer(parse_requests(examples, self.config)))


def parse_requests(examples: tf.Tensor, config: Config) -> dict:
    """Serialized tf.Examples as the raw tensors the transform graph takes (a scalar
    `[batch]`, a sequence a SparseTensor), by the batch job's rules for missing values:
    an absent or empty scalar takes its fill, a NaN float its default, and a row the
    batch job would set aside fails the request, naming the column."""
    raw = tf.io.parse_example(examples, serving_parse_spec(config))
    rows = tf.shape(examples, out_type=tf.int64)[0]
    fills = scalar_fills(config)
    for column in config.schema.values():
        if not column.is_sequence:
            raw[column.name] = one_value_per_row(raw[column.name], column, fills[column.name],
                                                 rows)
        if column.type == "float":
            raw[column.name] = nan_as_missing(raw[column.name], column)
    return raw


def serving_parse_spec(config: Config) -> dict:
    """How a request is parsed: a sequence as VarLen, a scalar as Ragged (its values
    with their count per row), never as a FixedLenFeature.

    tf.io rejects a FixedLenFeature present with an empty value list, even one
    with a default, while the batch job reads an empty list as missing
    (docs/config.md "Missing and invalid values"); `one_value_per_row` applies the
    batch job's rule to the counts.
    """
    return {column.name: tf.io.VarLenFeature(TF_DTYPES[column.type]) if column.is_sequence
            else tf.io.RaggedFeature(TF_DTYPES[column.type], row_splits_dtype=tf.int64)
            for column in config.schema.values()}


def scalar_fills(config: Config) -> dict:
    """What a missing scalar takes: its default; an empty value for a column no feature
    reads (a label or id that only `keep:` carries, an unused column: optional in a
    request); None for a column that must be there."""
    read = config.feature_inputs
    fills = {}
    for column in config.schema.values():
        if column.is_sequence:
            continue
        if column.has_default:
            fills[column.name] = column.default
        elif column.name not in read:
            fills[column.name] = _EMPTY[column.type]
        else:
            fills[column.name] = None
    return fills


_EMPTY = {"string": "", "int": 0, "bool": 0, "float": 0.0}  # an optional column left out


def one_value_per_row(values: tf.RaggedTensor, column: Column, fill, rows: tf.Tensor
                      ) -> tf.Tensor:
    """A scalar column as the batch job reads it: `[rows]`, one value per row.

    No value (the feature absent, or present with an empty list) is missing: the
    row takes `fill`, or, when there is none (`fill` None), the request fails
    naming the column; more than one value fails too (the batch job sets such rows
    aside).
    """
    splits = values.row_splits
    counts = splits[1:] - splits[:-1]
    checks = [tf.debugging.Assert(
        tf.reduce_all(counts <= 1),
        [f"column {column.name!r} holds more than one value; a scalar needs one"])]
    if fill is None:
        checks.append(tf.debugging.Assert(
            tf.reduce_all(counts >= 1),
            [f"column {column.name!r} is missing or empty, and the column has no default"]))
        with tf.control_dependencies(checks):
            return tf.identity(values.flat_values)
    with tf.control_dependencies(checks):
        return tf.tensor_scatter_nd_update(tf.fill([rows], tf.constant(fill, values.dtype)),
                                           tf.where(counts > 0), values.flat_values)


def nan_as_missing(values, column: Column):
    """NaN is missing, as in the batch job: the column's default, or an invalid request."""
    dense = values.values if isinstance(values, tf.SparseTensor) else values
    nan = tf.math.is_nan(dense)
    if column.has_default and not column.is_sequence:
        return tf.where(nan, tf.constant(column.default, dense.dtype), dense)
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(nan)),
        [f"column {column.name!r} is NaN and has no default (NaN counts as missing)"])
    with tf.control_dependencies([check]):
        return tf.identity(values) if not isinstance(values, tf.SparseTensor) else \
            tf.SparseTensor(values.indices, tf.identity(values.values), values.dense_shape)


def flatten_outputs(outputs: dict) -> dict:
    """Signatures return plain tensors: split each SparseTensor into its parts."""
    flat = {}
    for name, tensor in outputs.items():
        if isinstance(tensor, tf.SparseTensor):
            flat[f"{name}$indices"] = tensor.indices
            flat[f"{name}$values"] = tensor.values
            flat[f"{name}$dense_shape"] = tensor.dense_shape
        else:
            flat[name] = tensor
    return flat


def export_serving_model(config: Config, transform_output_dir: str, export_dir: str):
    """Writes the serving SavedModel for the transform graph in `transform_output_dir`.

    Returns the graph's `transform_features_layer()` it loaded, for a caller
    that runs the graph next (`pipeline.transform.boundaries`)."""
    module = ServingModule(tft.TFTransformOutput(transform_output_dir), config)
    tf.saved_model.save(module, export_dir, signatures={SIGNATURE: module.serve})
    pause_point("serving")
    return module.transform_layer

"""Exports `serving/`: raw serialized tf.Examples in, transformed features out.

The SavedModel wraps the run's own transform graph (tf.Transform's
`transform_features_layer`), so serving computes exactly what the batch job
wrote. It is self-contained: it loads without the project, the config or
`transform_fn/`.

Signature `serving_default`:
  input  `examples`: string `[batch]`, serialized tf.Example with raw columns;
  only the columns some feature reads are required (docs/outputs.md "The
  serving model"), and NaN floats follow the batch job's policy (docs/config.md
  "Missing and invalid values").
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
        self.parse_spec = serving_parse_spec(config)
        self.float_columns = [c for c in config.schema.values() if c.type == "float"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)  # straight-line code: nothing for autograph to convert
    def serve(self, examples: tf.Tensor) -> dict:
        raw = tf.io.parse_example(examples, self.parse_spec)
        for column in self.float_columns:
            raw[column.name] = nan_as_missing(raw[column.name], column)
        return flatten_outputs(self.transform_layer(raw))


def serving_parse_spec(config: Config) -> dict:
    """How a request is parsed: a column no feature reads (a label or id that only
    `keep:` carries, an unused column) is optional, like one with a default."""
    read = config.feature_inputs
    spec = {}
    for column in config.schema.values():
        dtype = TF_DTYPES[column.type]
        if column.is_sequence:
            spec[column.name] = tf.io.VarLenFeature(dtype)
        elif column.has_default or column.name not in read:
            default = column.default if column.has_default else _EMPTY[column.type]
            spec[column.name] = tf.io.FixedLenFeature([], dtype, default_value=default)
        else:
            spec[column.name] = tf.io.FixedLenFeature([], dtype)
    return spec


_EMPTY = {"string": "", "int": 0, "bool": 0, "float": 0.0}  # an optional column left out


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

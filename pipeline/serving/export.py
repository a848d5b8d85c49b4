"""Exports `serving/`: raw serialized tf.Examples in, transformed features out.

The SavedModel wraps the run's own transform graph (tf.Transform's
`transform_features_layer`), so serving computes exactly what the batch job
wrote. It is self-contained: it loads without the project, the config or
`transform_fn/`.

Signature `serving_default`:
  input  `examples`: string `[batch]`, serialized tf.Example with raw columns.
  output per dense feature `NAME`: its tensor (`[batch]` or `[batch, width]`);
  per sparse feature (sequence ids, sparse one_hot/multi_hot) three tensors,
  the parts of a tf.SparseTensor: `NAME$indices` int64 `[n, 2]`,
  `NAME$values` `[n]`, `NAME$dense_shape` int64 `[2]`.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import Config
from pipeline.io.pause_points import pause_point
from pipeline.transform.raw_specs import raw_feature_spec

SIGNATURE = "serving_default"


class ServingModule(tf.Module):
    def __init__(self, transform_output: tft.TFTransformOutput, parse_spec: dict) -> None:
        super().__init__()
        self.transform_layer = transform_output.transform_features_layer()
        self.parse_spec = parse_spec

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)  # straight-line code: nothing for autograph to convert
    def serve(self, examples: tf.Tensor) -> dict:
        raw = tf.io.parse_example(examples, self.parse_spec)
        return flatten_outputs(self.transform_layer(raw))


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


def export_serving_model(config: Config, transform_output_dir: str, export_dir: str) -> None:
    """Writes the serving SavedModel for the transform graph in `transform_output_dir`."""
    module = ServingModule(tft.TFTransformOutput(transform_output_dir),
                           raw_feature_spec(config, with_defaults=True))
    tf.saved_model.save(module, export_dir, signatures={SIGNATURE: module.serve})
    pause_point("serving")

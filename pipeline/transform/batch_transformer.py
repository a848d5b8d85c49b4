"""Applies an exported transform graph to Arrow record batches, Arrow out.

This is the transform phase of the batch job: the very `transform_fn/`
SavedModel that tf.Transform exported (and that serving uses) runs on whole
record batches. tfx-bsl's TensorAdapter turns a batch into tensors in C++;
the outputs go back to Arrow through NumPy without per-row Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from pipeline.config import Config
from pipeline.transform.output_specs import list_layout_schema, output_feature_spec
from pipeline.transform.raw_specs import as_lists, tensor_adapter_config


class GraphMismatchError(ValueError):
    """The transform graph and the config disagree on the outputs."""


def check_transform_output(config: Config, transform_output_dir: str) -> tft.TFTransformOutput:
    """Loads a transform output and checks it produces the config's features."""
    output = tft.TFTransformOutput(transform_output_dir)
    if output_feature_spec(config) != output.transformed_feature_spec():
        raise GraphMismatchError(
            f"the transform graph in {transform_output_dir} does not produce the features "
            f"of {config.path}; use the config of the run that exported it")
    return output


class BatchTransformer:
    """Loads `transform_fn/` once; then maps raw batches to output batches."""

    def __init__(self, config: Config, transform_output_dir: str) -> None:
        self.output = check_transform_output(config, transform_output_dir)
        self.spec = output_feature_spec(config)  # config order = output column order
        self.schema = list_layout_schema(self.spec)
        self.adapter = tfxio.TensorAdapter(tensor_adapter_config(config))
        # A fixed input signature: called bare, the layer first tries (and fails)
        # a signature check that formats every input tensor, on every batch. No
        # autograph: the layer calls the loaded graph, there is no Python control
        # flow to convert, and converting the layer's code costs seconds per worker.
        self.layer = tf.function(self.output.transform_features_layer(),
                                 input_signature=[self.adapter.TypeSpecs()], autograph=False)

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        tensors = self.adapter.ToBatchTensors(batch, produce_eager_tensors=True)
        outputs = self.layer(tensors)
        return tensors_to_record_batch(outputs, self.spec, self.schema, batch.num_rows)


def tensors_to_record_batch(outputs: dict, spec: dict, schema: pa.Schema,
                            rows: int) -> pa.RecordBatch:
    """Lays out transformed tensors as Arrow list columns, following `spec`."""
    arrays = []
    for name, feature_spec in spec.items():
        tensor = outputs[name]
        if isinstance(feature_spec, tf.io.FixedLenFeature):
            width = int(np.prod(feature_spec.shape, dtype=np.int64))
            values = tensor.numpy().reshape(-1)
            arrays.append(as_lists(values, np.full(rows, width, dtype=np.int64)))
            continue
        row_ids = tensor.indices[:, 0].numpy()
        lengths = np.bincount(row_ids, minlength=rows).astype(np.int64)
        if isinstance(feature_spec, tf.io.SparseFeature):
            arrays.append(as_lists(tensor.indices[:, 1].numpy(), lengths))
        arrays.append(as_lists(tensor.values.numpy(), lengths))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)

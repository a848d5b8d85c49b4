"""Reads a run's bucket boundaries back out of its transform graph.

Quantile boundaries are computed by tf.Transform during analysis and frozen
into `transform_fn/` as constants that no public API exposes. They are
recovered here by asking the graph itself: for each bucket k, a bisection
finds the smallest input value that the graph puts in bucket k or above.
That is exactly the value Keras `Discretization(bin_boundaries=...)` needs
to reproduce the run, and it is written into `manifest.json`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import Config, Feature
from pipeline.transform.raw_specs import TF_DTYPES


def bucket_boundaries(config: Config, transform_output_dir: str) -> dict[str, list[float]]:
    """{feature name: boundaries} for every bucketize feature of the run."""
    layer = tft.TFTransformOutput(transform_output_dir).transform_features_layer()
    found = {}
    for feature in config.features:
        if feature.kind == "bucketize":
            found[feature.name] = _probe(layer, config, feature)
    return found


def _probe(layer, config: Config, feature: Feature) -> list[float]:
    column = config.schema.get(feature.inputs[0])
    if column is None:  # bucketizing a product feature: inputs are floats
        is_int = False
    else:
        is_int = column.type in ("int", "bool")
    count = feature.width - 1
    if is_int:
        low = np.full(count, -(2 ** 60), dtype=np.int64)
        high = np.full(count, 2 ** 60, dtype=np.int64)
    else:  # bisect over float32 bit patterns, ordered like the floats themselves
        low = np.full(count, _ordinal(np.float32(-np.inf)), dtype=np.int64)
        high = np.full(count, _ordinal(np.float32(np.inf)), dtype=np.int64)
    targets = np.arange(1, count + 1)
    while np.any(high - low > 1):
        middle = low + (high - low) // 2
        values = middle if is_int else _from_ordinal(middle)
        above = _buckets(layer, config, feature, values) >= targets
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    if is_int:
        return [float(v) for v in high]
    # TF flushes subnormal floats to zero, so a boundary at 0 is found as the
    # most negative subnormal; every subnormal acts as 0 in the graph.
    found = _from_ordinal(high)
    return [0.0 if abs(v) < np.finfo(np.float32).tiny else float(v) for v in found]


def _buckets(layer, config: Config, feature: Feature, values: np.ndarray) -> np.ndarray:
    """Bucket ids the graph gives `values` of the feature's input column."""
    rows = len(values)
    inputs = {}
    for column in config.schema.values():
        dtype = TF_DTYPES[column.type]
        if column.is_sequence:
            inputs[column.name] = tf.SparseTensor(tf.zeros([0, 2], tf.int64),
                                                  tf.zeros([0], dtype), [rows, 0])
        else:
            inputs[column.name] = tf.zeros([rows], dtype)
    source = feature.inputs[0]
    if source in config.schema:
        inputs[source] = tf.constant(values, TF_DTYPES[config.schema[source].type])
    else:  # a product of columns: feed the value through its first input, ones elsewhere
        product = next(f for f in config.features if f.name == source)
        for position, name in enumerate(product.inputs):
            inputs[name] = tf.constant(values if position == 0 else np.ones(rows),
                                       TF_DTYPES[config.schema[name].type])
    output = layer(inputs)[feature.name]
    if isinstance(output, tf.SparseTensor):
        return tf.sparse.to_dense(output).numpy().argmax(axis=1)
    output = output.numpy()
    return output if output.ndim == 1 else output.argmax(axis=1)


def _ordinal(value: np.float32) -> int:
    bits = np.array([value], dtype=np.float32).view(np.int32).astype(np.int64)[0]
    return int(bits) if bits >= 0 else int(-(bits & 0x7FFFFFFF))


def _from_ordinal(ordinals: np.ndarray) -> np.ndarray:
    ordinals = np.asarray(ordinals, dtype=np.int64)
    bits = np.where(ordinals >= 0, ordinals, (-ordinals) | 0x80000000)
    return bits.astype(np.uint32).view(np.float32)

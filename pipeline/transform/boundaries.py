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


def bucket_boundaries(config: Config, transform_output_dir: str,
                      layer=None) -> dict[str, list[float]]:
    """{feature name: boundaries} for every bucketize feature of the run.

    `layer`: the graph's `transform_features_layer()`, when the caller has it
    loaded already. Features that read disjoint columns are bisected together,
    one call of the graph per step for all of them (each call runs the whole
    graph, every cross included); each feature's steps are the ones it would
    take alone, so the boundaries are the same.
    """
    features = [f for f in config.features if f.kind == "bucketize"]
    if not features:
        return {}
    if layer is None:
        layer = tft.TFTransformOutput(transform_output_dir).transform_features_layer()
    found = {}
    for group in _disjoint_groups(config, features):
        found.update(_probe(layer, config, group))
    return {feature.name: found[feature.name] for feature in features}


def _columns_read(config: Config, feature: Feature) -> set[str]:
    """The raw columns a bucketize feature's probe values go into."""
    source = feature.inputs[0]
    if source in config.schema:
        return {source}
    return set(next(f for f in config.features if f.name == source).inputs)


def _disjoint_groups(config: Config, features: list[Feature]) -> list[list[Feature]]:
    """The features in groups (first fit, in order) that read no column in common."""
    groups: list[tuple[list[Feature], set[str]]] = []
    for feature in features:
        columns = _columns_read(config, feature)
        for members, used in groups:
            if not columns & used:
                members.append(feature)
                used |= columns
                break
        else:
            groups.append(([feature], set(columns)))
    return [members for members, _ in groups]


class _Bisection:
    """One feature's search: per bucket k >= 1, the smallest value the graph puts
    in bucket k or above."""

    def __init__(self, config: Config, feature: Feature) -> None:
        self.feature = feature
        column = config.schema.get(feature.inputs[0])
        if column is None:  # bucketizing a product feature: inputs are floats
            self.is_int = False
        else:
            self.is_int = column.type in ("int", "bool")
        count = feature.width - 1
        if self.is_int:
            self.low = np.full(count, -(2 ** 60), dtype=np.int64)
            self.high = np.full(count, 2 ** 60, dtype=np.int64)
        else:  # bisect over float32 bit patterns, ordered like the floats themselves
            self.low = np.full(count, _ordinal(np.float32(-np.inf)), dtype=np.int64)
            self.high = np.full(count, _ordinal(np.float32(np.inf)), dtype=np.int64)
        self.targets = np.arange(1, count + 1)

    @property
    def searching(self) -> bool:
        return bool(np.any(self.high - self.low > 1))

    def values(self) -> np.ndarray:
        """The values to try next."""
        self.middle = self.low + (self.high - self.low) // 2
        return self.middle if self.is_int else _from_ordinal(self.middle)

    def step(self, buckets: np.ndarray) -> None:
        """Narrows the search from the buckets the graph gave `values()`."""
        above = buckets >= self.targets
        self.high = np.where(above, self.middle, self.high)
        self.low = np.where(above, self.low, self.middle)

    def boundaries(self) -> list[float]:
        if self.is_int:
            return [float(v) for v in self.high]
        # TF flushes subnormal floats to zero, so a boundary at 0 is found as the
        # most negative subnormal; every subnormal acts as 0 in the graph.
        found = _from_ordinal(self.high)
        return [0.0 if abs(v) < np.finfo(np.float32).tiny else float(v) for v in found]


def _probe(layer, config: Config, features: list[Feature]) -> dict[str, list[float]]:
    """Bisects `features` (reading disjoint columns) together: one graph call per step."""
    searches = [_Bisection(config, feature) for feature in features]
    active = [search for search in searches if search.searching]
    while active:
        tried = {search.feature.name: search.values() for search in active}
        buckets = _buckets(layer, config, [s.feature for s in active], tried)
        for search in active:
            search.step(buckets[search.feature.name])
        active = [search for search in active if search.searching]
    return {search.feature.name: search.boundaries() for search in searches}


def _buckets(layer, config: Config, features: list[Feature],
             values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bucket ids the graph gives each feature's `values` of its input column.

    The features read disjoint columns; the batch has as many rows as the
    longest list of values, shorter lists repeat their last value.
    """
    rows = max(len(v) for v in values.values())
    inputs = {}
    for column in config.schema.values():
        dtype = TF_DTYPES[column.type]
        if column.is_sequence:
            inputs[column.name] = tf.SparseTensor(tf.zeros([0, 2], tf.int64),
                                                  tf.zeros([0], dtype), [rows, 0])
        else:
            inputs[column.name] = tf.zeros([rows], dtype)
    for feature in features:
        mine = values[feature.name]
        mine = np.concatenate([mine, np.repeat(mine[-1:], rows - len(mine))])
        source = feature.inputs[0]
        if source in config.schema:
            inputs[source] = tf.constant(mine, TF_DTYPES[config.schema[source].type])
        else:  # a product of columns: feed the value through its first input, ones elsewhere
            product = next(f for f in config.features if f.name == source)
            for position, name in enumerate(product.inputs):
                inputs[name] = tf.constant(mine if position == 0 else np.ones(rows),
                                           TF_DTYPES[config.schema[name].type])
    outputs = layer(inputs)
    return {feature.name: _bucket_ids(outputs[feature.name])[:len(values[feature.name])]
            for feature in features}


def _bucket_ids(output) -> np.ndarray:
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

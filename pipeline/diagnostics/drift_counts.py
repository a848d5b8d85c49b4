"""The Beam side of the drift figures: rows per bucket and top input values.

Counted on the batches as they go by, in the transform step (vectorized per
batch, then merged), so the drift baseline and today's figures cost no extra
pass: rows per bucket of each bucketized feature (from the transformed
batch) and value counts of each categorical input of a hashed feature (from
the checked raw batch, on the dictionary encoding the combination counts
share). The distinct raw combinations of each hashed feature, with their
bins and rows, come from the collision counts (`pipeline.diagnostics.collision_counts`):
one fingerprint pass serves both. docs/running.md "Drift against the frozen analysis".
"""

from __future__ import annotations

import functools
import os

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Config
from pipeline.config.model import CATEGORICAL_TYPES
from pipeline.diagnostics.fingerprints import BatchColumns
from pipeline.io.layout import DRIFT_COUNTS_FILE
from pipeline.io.side_files import take_json, write_json
from pipeline.transform.output_specs import sparse_keys

DRIFT_TAG = "drift"
TOP_VALUES = 10            # shown per categorical input
TRACKED_VALUES = 10_000    # distinct values counted per input; beyond, the rarest are dropped


def bucketized_features(config: Config) -> list:
    return [f for f in config.features if f.kind == "bucketize"]


def categorical_inputs(config: Config) -> list[str]:
    """Raw string and int columns that a cross or hash reads directly."""
    names = {f.name for f in config.features}
    seen: dict[str, None] = {}
    for feature in config.features:
        if feature.kind in ("cross", "hash"):
            for name in feature.inputs:
                if name not in names and config.schema[name].type in CATEGORICAL_TYPES:
                    seen[name] = None
    return list(seen)


def bucket_rows(feature, batch: pa.RecordBatch) -> np.ndarray:
    """Rows (values, for sequences) per bucket id in one transformed batch."""
    if feature.output == "int":
        ids = pc.list_flatten(batch.column(feature.name)).to_numpy(zero_copy_only=False)
        return np.bincount(ids.astype(np.int64))
    if feature.sparse:
        index_key, _ = sparse_keys(feature.name)
        ids = pc.list_flatten(batch.column(index_key)).to_numpy(zero_copy_only=False)
        return np.bincount(ids.astype(np.int64))
    dense = pc.list_flatten(batch.column(feature.name)).to_numpy(zero_copy_only=False)
    return dense.reshape(batch.num_rows, -1).sum(axis=0).round().astype(np.int64)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class BatchDriftCounts:
    """Per-batch counts: {"buckets": {feature: [rows...]}} of the transformed batch and
    {"inputs": {column: (distinct values, rows of each)}} of the raw one."""

    def __init__(self, config: Config) -> None:
        self.buckets = bucketized_features(config)
        self.inputs = categorical_inputs(config)

    @property
    def needed(self) -> bool:
        return bool(self.buckets or self.inputs)

    def __call__(self, columns: BatchColumns) -> dict:
        """`columns`: the batch's raw and transformed columns (their encodings shared
        with the combination counts)."""
        return {"inputs": {name: columns[name].value_counts() for name in self.inputs},
                "buckets": {f.name: bucket_rows(f, columns.transformed).tolist()
                            for f in self.buckets}}


def merge_counts(first: dict, second: dict) -> dict:
    """Two partial counts added up; an input's values stay in order of first appearance.

    An input past TRACKED_VALUES distinct values keeps its most common ones
    (ties: the earlier seen), as `collections.Counter.most_common` would pick.
    Values stay Arrow arrays (looked up with `pc.index_in`) until `as_json`.
    """
    buckets = dict(first.get("buckets", {}))
    for name, rows in second.get("buckets", {}).items():
        mine = buckets.get(name, [])
        width = max(len(mine), len(rows))
        buckets[name] = [(mine[i] if i < len(mine) else 0) + (rows[i] if i < len(rows) else 0)
                         for i in range(width)]
    inputs = dict(first.get("inputs", {}))
    truncated = set(first.get("truncated", ())) | set(second.get("truncated", ()))
    for name, (values, counts) in second.get("inputs", {}).items():
        if name in inputs:
            values, counts = _add_value_counts(inputs[name], (values, counts))
        if len(values) > TRACKED_VALUES:
            kept = np.argsort(-counts, kind="stable")[:TRACKED_VALUES]
            values, counts = values.take(pa.array(kept)), counts[kept]
            truncated.add(name)
        inputs[name] = (values, counts)
    return {"buckets": buckets, "inputs": inputs, "truncated": sorted(truncated)}


def _add_value_counts(first: tuple, second: tuple) -> tuple[pa.Array, np.ndarray]:
    values, counts = first
    more, more_counts = second
    if more.type != values.type:
        more = more.cast(values.type)
    where = pc.index_in(more, value_set=values).fill_null(-1).to_numpy()
    seen = where >= 0
    counts = counts.copy()
    counts[where[seen]] += more_counts[seen]
    unseen = ~seen
    if unseen.any():
        values = pa.concat_arrays([values, more.filter(pa.array(unseen))])
        counts = np.concatenate([counts, more_counts[unseen]])
    return values, counts


def as_json(counts: dict) -> dict:
    """The merged counts as `drift_counts.json` holds them: values as text."""
    if not counts:
        return {}
    inputs = {}
    for name, (values, rows) in counts["inputs"].items():
        texts: dict[str, int] = {}
        for value, count in zip(values.to_pylist(), rows.tolist()):
            text = _text(value)
            texts[text] = texts.get(text, 0) + count
        inputs[name] = texts
    return {"buckets": counts["buckets"], "inputs": inputs, "truncated": counts["truncated"]}


class MergeDriftCounts(beam.CombineFn):
    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, accumulator: dict, counts: dict) -> dict:
        return merge_counts(accumulator, counts)

    def merge_accumulators(self, accumulators) -> dict:
        return functools.reduce(merge_counts, accumulators, {})

    def extract_output(self, accumulator: dict) -> dict:
        return as_json(accumulator)


class WriteDriftCounts(beam.PTransform):
    """Per-batch counts (from `TransformBatches`) in; `drift_counts.json` out.

    One combine straight after the step that counts: a Flatten in front of it
    would keep the DirectRunner from combining per bundle (it would buffer
    every batch's counts to the end, so memory would grow with the input).
    """

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self.path = os.path.join(output_dir, DRIFT_COUNTS_FILE)

    def expand(self, counts):
        return (counts
                | "MergeDriftCounts" >> beam.CombineGlobally(MergeDriftCounts())
                | "WriteDriftCounts" >> beam.Map(write_json, self.path))


def read_drift_counts(output_dir: str) -> dict:
    """Reads and removes the counts the pipeline left in `output_dir` ({} if none)."""
    return take_json(os.path.join(output_dir, DRIFT_COUNTS_FILE), missing={})


def top_values(counts: dict[str, int], total: int) -> list[dict]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
    return [{"value": value, "rows": rows, "share": rows / total if total else 0.0}
            for value, rows in ranked]

"""Value counts of categorical inputs (docs/running.md "Drift against the frozen analysis").

The counts are merged batch by batch as Arrow arrays; they must come out as a
plain `collections.Counter` would count them, truncation past the tracked
limit included (the most common values, ties to the earlier seen). That the
job's combines read fused steps is tests/jobs/test_drift_counts_job.py's.
"""

from __future__ import annotations

import collections

import numpy as np
import pyarrow as pa
import pytest

from pipeline.diagnostics import drift_counts
from pipeline.diagnostics.drift_counts import MergeDriftCounts, as_json, merge_counts
from pipeline.diagnostics.fingerprints import ListColumn


def _counter_reference(batches: list[list], limit: int) -> tuple[dict, bool]:
    """Counter.update per batch, keeping most_common(limit) whenever past the limit."""
    merged: collections.Counter = collections.Counter()
    truncated = False
    for values in batches:
        merged.update(collections.Counter(drift_counts._text(v) for v in values))
        if len(merged) > limit:
            merged = collections.Counter(dict(merged.most_common(limit)))
            truncated = True
    return dict(merged), truncated


def _list_column(values: list, value_type: pa.DataType) -> pa.Array:
    return pa.LargeListArray.from_arrays(pa.array(np.arange(len(values) + 1), pa.int64()),
                                         pa.array(values, value_type))


def _counts(values: list, value_type: pa.DataType) -> tuple:
    """One batch's value counts, as the transform step takes them (the column's encoding)."""
    return ListColumn(_list_column(values, value_type)).value_counts()


def _merged(batches: list[list], value_type: pa.DataType) -> dict:
    combiner = MergeDriftCounts()
    accumulator = combiner.create_accumulator()
    for values in batches:
        accumulator = combiner.add_input(
            accumulator, {"inputs": {"x": _counts(values, value_type)}})
    return combiner.extract_output(accumulator)


@pytest.mark.parametrize("limit", [10_000, 7])
@pytest.mark.parametrize("value_type", [pa.large_binary(), pa.int64()])
def test_batch_counts_merge_as_a_counter_counts(monkeypatch, limit, value_type):
    monkeypatch.setattr(drift_counts, "TRACKED_VALUES", limit)
    rng = np.random.default_rng(7)
    batches = []
    for size in (50, 1, 200, 80):
        ids = rng.zipf(1.6, size) % 40
        batches.append([f"v{i}".encode() if value_type == pa.large_binary() else int(i)
                        for i in ids])
    expected, truncated = _counter_reference(batches, limit)
    got = _merged(batches, value_type)
    assert got["inputs"]["x"] == expected
    assert list(got["inputs"]["x"]) == list(expected)  # the same values kept, in the same order
    assert got["truncated"] == (["x"] if truncated else [])


def test_accumulators_merge_in_order_and_empty_input_gives_nothing():
    first = {"inputs": {"x": _counts([b"a", b"b", b"a"], pa.large_binary())},
             "buckets": {"d": [1, 2]}}
    second = {"inputs": {"x": _counts([b"c", b"a"], pa.large_binary())},
              "buckets": {"d": [0, 1, 5]}}
    merged = as_json(MergeDriftCounts().merge_accumulators([merge_counts({}, first), second]))
    assert merged == {"buckets": {"d": [1, 3, 5]}, "inputs": {"x": {"a": 3, "b": 1, "c": 1}},
                      "truncated": []}
    assert MergeDriftCounts().extract_output(MergeDriftCounts().create_accumulator()) == {}

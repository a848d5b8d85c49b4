"""Above the memory budget: synthetic keys through the Beam combine, every figure
within its stated error of a brute-force count (docs/outputs.md "Collision report")."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing import test_pipeline

from pipeline.diagnostics.budget import DiagnosticsBudget
from pipeline.diagnostics.collision_counts import (
    CountCollisions,
    MergeKeyCounts,
    read_collisions,
    read_combinations,
)
from pipeline.diagnostics.collisions import expected_collision_rate
from pipeline.diagnostics.fingerprints import group_keys
from pipeline.diagnostics.samples import ALL, range_rows

NUM_BINS = {"small": 100_000, "wide": 2_000_000}
DISTINCT, BATCHES = 120_000, 24


def occurrences(seed: int = 7) -> np.ndarray:
    """Every occurrence's key: Zipf-distributed over DISTINCT keys, each at least once."""
    rng = np.random.default_rng(seed)
    universe = rng.integers(0, 2**64, DISTINCT, dtype=np.uint64)
    drawn = np.concatenate([universe[rng.zipf(1.2, 400_000) % DISTINCT], universe])
    return drawn[rng.permutation(len(drawn))]


def batch(index: int) -> dict:
    """One batch's summary per feature, {feature: (keys, bins, rows, num_bins)}."""
    chunk = np.array_split(occurrences(), BATCHES)[index]
    return {name: (*group_keys(chunk, chunk % np.uint64(m)), m) for name, m in NUM_BINS.items()}


def brute_force(occurrences: np.ndarray, num_bins: int) -> dict:
    keys = np.unique(occurrences)
    per_bin = np.unique(keys % np.uint64(num_bins), return_counts=True)[1]
    rows = np.unique(occurrences % np.uint64(num_bins), return_counts=True)[1]
    return {"distinct": len(keys), "bins_used": len(per_bin),
            "collision_rate": per_bin[per_bin > 1].sum() / len(keys), "rows": len(occurrences),
            "max": int(rows.max()), "p50": int(np.percentile(rows, 50, method="lower")),
            "p99": int(np.percentile(rows, 99, method="lower"))}


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    out = tmp_path_factory.mktemp("sampled")
    budget = DiagnosticsBudget(memory_mb=4, features=2)  # 2 MB each: 32,768 keys exact
    with test_pipeline.TestPipeline() as pipeline:
        _ = (pipeline | beam.Create(range(BATCHES)) | beam.Map(batch)
             | CountCollisions(str(out), budget=budget, order=list(NUM_BINS)))
    collisions = read_collisions(str(out))
    return (collisions, read_combinations(str(out), collisions["features"]), occurrences(),
            budget)


def test_the_budget_and_each_features_method_are_reported(counted):
    collisions, _, _, budget = counted
    assert collisions["budget"]["memory_budget_mb"] == 4
    assert collisions["budget"]["exact_limit"] == budget.exact_limit == 32_768
    assert list(collisions["features"]) == list(NUM_BINS)
    for entry in collisions["features"].values():
        assert entry["method"].startswith("sample") and entry["exact_limit"] == 32_768


@pytest.mark.parametrize("name", list(NUM_BINS))
def test_sampled_figures_hold_their_stated_error(counted, name):
    collisions, _, drawn, budget = counted
    entry, truth = collisions["features"][name], brute_force(drawn, NUM_BINS[name])
    low, high = entry["distinct_bounds"]
    assert low <= truth["distinct"] <= high
    error = entry["distinct_relative_error"]
    assert abs(entry["distinct"] - truth["distinct"]) <= 3 * error * truth["distinct"]
    # the collision rate is the random-hash model's at the estimated count
    assert entry["collision_rate"] == pytest.approx(
        expected_collision_rate(entry["distinct"], NUM_BINS[name]), rel=1e-4)
    assert abs(entry["collision_rate"] - truth["collision_rate"]) <= 0.01 + 3 * error
    assert entry["rows"] == truth["rows"]
    if NUM_BINS[name] <= budget.dense_bin_limit:  # rows per bin kept as an array: exact
        assert entry["bins_used"] == truth["bins_used"]
        assert entry["rows_per_bin"] == {k: truth[k] for k in ("max", "p50", "p99")}
        return
    assert "bins from a bottom" in entry["method"]
    bins_error = entry["bins_used_relative_error"]
    assert abs(entry["bins_used"] - truth["bins_used"]) <= 3 * bins_error * truth["bins_used"]
    low, high = entry["rows_per_bin_max_bounds"]
    assert low == entry["rows_per_bin"]["max"] and low <= truth["max"] <= high
    assert abs(entry["rows_per_bin"]["p50"] - truth["p50"]) <= 1
    assert entry["rows_per_bin"]["p99"] == pytest.approx(truth["p99"], rel=0.35)


@pytest.mark.parametrize("name", list(NUM_BINS))
def test_the_drift_sample_is_a_bottom_k_sample_with_exact_rows(counted, name):
    _, kept, drawn, _ = counted
    sample = kept[name]
    assert not sample["exact"] and sample["threshold"] < ALL
    keys, counts = np.unique(drawn, return_counts=True)
    found = np.searchsorted(keys, sample["keys"])
    assert (keys[found] == sample["keys"]).all()
    np.testing.assert_array_equal(sample["key_rows"], counts[found])  # rows exact per key
    np.testing.assert_array_equal(
        sample["range_rows"],
        range_rows(drawn % np.uint64(NUM_BINS[name]), np.ones(len(drawn)),
                   NUM_BINS[name]))


EVENTS: list[str] = []


class _LoggedMerge(MergeKeyCounts):
    def add_input(self, accumulator, summary):
        EVENTS.append("add")
        return super().add_input(accumulator, summary)


def _logged_batch(index: int) -> dict:
    EVENTS.append("batch")
    keys = np.arange(index * 100, index * 100 + 100, dtype=np.uint64)
    return {name: (*group_keys(keys, keys % np.uint64(10)), 10) for name in ("f", "g")}


def test_each_bundle_pre_combines_its_batches_per_feature(tmp_path):
    """Combiner lifting: each batch's summaries are added to the per-feature accumulators
    as the batch is made, not buffered until every batch is in (docs/performance.md
    "Memory")."""
    EVENTS.clear()
    count = CountCollisions(str(tmp_path))
    count.combine = _LoggedMerge(DiagnosticsBudget())
    with test_pipeline.TestPipeline() as pipeline:
        _ = pipeline | beam.Create(range(6)) | beam.Map(_logged_batch) | count
    assert EVENTS[:6] == ["batch", "add", "add", "batch", "add", "add"], EVENTS
    assert read_collisions(str(tmp_path))["features"]["f"]["distinct"] == 600

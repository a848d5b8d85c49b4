"""The bounded summaries behind the diagnostics above their budget, against brute force
(docs/outputs.md "Collision report")."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.diagnostics.budget import (
    BYTES_PER_KEY,
    MIN_EXACT_LIMIT,
    DiagnosticsBudget,
)
from pipeline.diagnostics.samples import (
    ALL,
    MAX_RANGES,
    BottomK,
    HeavyBins,
    bottom_k,
    mix64,
    range_rows,
    range_width,
)


def test_the_budget_is_shared_by_the_hashed_features_with_a_floor():
    wide = DiagnosticsBudget(512, 286)
    assert wide.exact_limit == 512 * 2**20 // 286 // BYTES_PER_KEY
    assert wide.exact_limit * BYTES_PER_KEY * 286 <= 512 * 2**20
    assert DiagnosticsBudget(512, 1).exact_limit == 2**23
    assert DiagnosticsBudget(1, 10_000).exact_limit == MIN_EXACT_LIMIT
    assert wide.dense_bin_limit * 8 * 286 <= 256 * 2**20  # rows-per-bin arrays: half of it


def test_mix64_is_a_bijection_on_a_sample():
    ids = np.arange(200_000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert len(np.unique(mix64(ids))) == len(ids)


def test_bottom_k_merged_in_any_order_is_the_bottom_k_of_the_union_with_exact_rows():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**64, 20_000, dtype=np.uint64)
    rows = rng.integers(1, 50, len(keys))
    parts = []
    for chunk in np.array_split(rng.permutation(len(keys) * 3) % len(keys), 6):
        sample = BottomK(500)
        for batch in np.array_split(chunk, 4):
            distinct, first = np.unique(batch, return_index=True)
            counts = np.bincount(np.searchsorted(distinct, batch), minlength=len(distinct))
            sample.add(keys[distinct], rows[distinct] * counts)
        parts.append(sample)
    merged = parts[3]
    for part in parts[:3] + parts[4:]:
        merged.merge(part)
    expected_ids, _, threshold = bottom_k(keys, rows, 500)
    assert sorted(merged.ids.tolist()) == sorted(expected_ids.tolist())
    assert merged.threshold == threshold < ALL
    position = {int(k): i for i, k in enumerate(keys.tolist())}
    # every key occurred 3 times overall, so its rows tripled
    assert all(r == 3 * rows[position[int(k)]] for k, r in zip(merged.ids, merged.rows))


@pytest.mark.parametrize("distinct", [3_000, 100_000])
def test_the_distinct_estimate_holds_its_stated_error(distinct):
    inside = 0
    trials = 40
    for seed in range(trials):
        keys = np.random.default_rng(seed).integers(0, 2**64, distinct, dtype=np.uint64)
        sample = BottomK(4096)
        sample.add(keys, np.ones(len(keys), np.int64))
        estimate, error = sample.distinct()
        if distinct <= 4096:
            assert (estimate, error) == (distinct, 0.0) and sample.complete
            return
        inside += abs(estimate - distinct) <= 2 * error * distinct
    assert inside >= 0.85 * trials  # 2 standard errors: about 95%


def test_heavy_bins_bound_the_busiest_bin():
    rng = np.random.default_rng(4)
    bins = rng.zipf(1.3, 300_000).astype(np.uint64) % np.uint64(50_000)
    truth = np.bincount(bins.astype(np.int64)).max()
    heavy = [HeavyBins(256), HeavyBins(256)]
    for i, chunk in enumerate(np.array_split(bins, 20)):
        heavy[i % 2].add(chunk, np.ones(len(chunk), np.int64))
    heavy[0].merge(heavy[1])
    low, high = heavy[0].max_bounds()
    assert low <= truth <= high
    assert heavy[0].slack <= len(bins) / 257


@pytest.mark.parametrize("num_bins", [7, 1024, 1025, 100_000, 2**40])
def test_bin_ranges_are_contiguous_and_at_most_max_ranges(num_bins):
    width = range_width(num_bins)
    bins = np.array([0, num_bins // 2, num_bins - 1], np.uint64)
    counts = range_rows(bins, np.array([1, 2, 3]), num_bins)
    assert len(counts) <= MAX_RANGES and counts.sum() == 6
    assert counts[-1] >= 3 and counts[(num_bins // 2) // width] >= 2
    if num_bins <= MAX_RANGES:
        assert width == 1 and len(counts) == num_bins

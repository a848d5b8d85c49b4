"""The unseen rate and bin shift from bounded samples, against brute force
(docs/running.md "Drift against the frozen analysis")."""

from __future__ import annotations

import json

import numpy as np

from pipeline.config import DriftThresholds
from pipeline.diagnostics import drift_baseline
from pipeline.diagnostics.budget import BASELINE_KEYS, SAMPLE_KEYS
from pipeline.diagnostics.drift import compare_feature, sampled_unseen, share_shift, unseen
from pipeline.diagnostics.samples import ALL, BottomK, range_rows
from pipeline.io.layout import BASELINE_FILE, MANIFEST, REPORT_DIR


def day(keys: np.ndarray, rows: np.ndarray, k: int) -> dict:
    """What a run keeps of a feature: a bottom-k sample of its keys, with their rows."""
    sample = BottomK(k)
    sample.add(keys, rows)
    ids, key_rows, threshold = sample.subsample(k)
    return {"keys": ids, "key_rows": key_rows, "threshold": threshold,
            "rows": int(rows.sum())}


def two_days(seed: int, distinct: int = 60_000, new_share: float = 0.1):
    rng = np.random.default_rng(seed)
    then_keys = rng.integers(0, 2**64, distinct, dtype=np.uint64)
    kept = then_keys[rng.random(distinct) < 0.8]
    fresh = rng.integers(0, 2**64, int(len(kept) * new_share), dtype=np.uint64)
    now_keys = np.concatenate([kept, fresh])
    now_rows = rng.zipf(1.8, len(now_keys)) % 500 + 1
    return then_keys, np.ones(distinct, np.int64), now_keys, now_rows.astype(np.int64), fresh


def test_complete_samples_give_the_exact_unseen_rate():
    then_keys, then_rows, now_keys, now_rows, _ = two_days(0, distinct=2_000)
    then, now = day(then_keys, then_rows, SAMPLE_KEYS), day(now_keys, now_rows, SAMPLE_KEYS)
    assert then["threshold"] == now["threshold"] == ALL
    figures = sampled_unseen(then, now)
    assert figures["unseen_rate_error"] == 0.0 and figures["unseen_method"] == "exact"
    expected = unseen(np.sort(then_keys), now_keys, now_rows)
    assert {k: figures[k] for k in expected} == expected


def test_the_sampled_unseen_rate_holds_its_stated_error():
    inside, trials = 0, 30
    for seed in range(trials):
        then_keys, then_rows, now_keys, now_rows, fresh = two_days(seed)
        truth = now_rows[np.isin(now_keys, fresh)].sum() / now_rows.sum()
        figures = sampled_unseen(day(then_keys, then_rows, BASELINE_KEYS),
                                 day(now_keys, now_rows, SAMPLE_KEYS))
        assert 0 < figures["unseen_rate_error"] < 0.05
        inside += abs(figures["unseen_rate"] - truth) <= 2 * figures["unseen_rate_error"]
    assert inside >= 0.8 * trials  # 2 standard errors: about 95%


def test_the_bin_shift_over_ranges_is_the_psi_of_rows_per_range():
    rng = np.random.default_rng(2)
    then_bins, now_bins = rng.integers(0, 100_000, 50_000), rng.integers(0, 100_000, 50_000)
    now_bins[:5_000] = 7  # a bin that grew
    ones = np.ones(50_000)
    then = range_rows(then_bins.astype(np.uint64), ones, 100_000)
    now = range_rows(now_bins.astype(np.uint64), ones, 100_000)
    row = compare_feature("f", "hashed", {"collision_rate": 0.1, "distinct": 1,
                                          "range_rows": then},
                          {"collision_rate": 0.1, "distinct": 1, "range_rows": now},
                          DriftThresholds().for_feature("f"))
    assert row["bin_shift"] == share_shift(then, now, 0.2)
    assert row["bin_shift"]["categories"] <= 1024 and row["bin_shift"]["psi"] > 0.05


def test_the_baseline_is_a_few_megabytes_at_300_features(tmp_path):
    rng = np.random.default_rng(5)
    features = {}
    for i in range(300):
        keys = rng.integers(0, 2**64, 30_000, dtype=np.uint64)
        rows = rng.zipf(2.0, len(keys)).astype(np.int64)
        sample = day(keys, rows, SAMPLE_KEYS)
        features[f"f{i}"] = {"kind": "hashed", "num_bins": 100_000, "exact": False,
                             "distinct": 30_000, "bins_used": 1, "collision_rate": 0.1,
                             "rows": sample["rows"], "rows_per_bin": {"max": 1, "p50": 1},
                             **{k: sample[k] for k in ("keys", "key_rows", "threshold")},
                             "range_rows": range_rows(keys % np.uint64(100_000), rows,
                                                      100_000)}
    summary = {"features": features, "inputs": {}}
    drift_baseline.save(str(tmp_path), summary)
    size = (tmp_path / REPORT_DIR / BASELINE_FILE).stat().st_size
    assert size < 8 * 2**20, size
    (tmp_path / MANIFEST).write_text(json.dumps(
        {"drift_baseline": drift_baseline.figures(summary)}, default=int))
    loaded = drift_baseline.load(str(tmp_path))["features"]["f7"]
    assert len(loaded["keys"]) == BASELINE_KEYS and loaded["threshold"] < features["f7"][
        "threshold"]
    np.testing.assert_array_equal(loaded["range_rows"], features["f7"]["range_rows"])
    assert set(loaded["keys"].tolist()) <= set(features["f7"]["keys"].tolist())


def test_a_baseline_from_before_the_samples_still_compares(tmp_path):
    """An older baseline (every key, rows per bin) reads as a complete sample."""
    keys = np.arange(1, 50, dtype=np.uint64)
    np.savez_compressed(tmp_path / "old.npz", **{
        "f/keys": keys, "f/key_rows": np.ones(49, np.int64),
        "f/bins": np.array([3, 70_000], np.uint64), "f/bin_rows": np.array([40, 9])})
    (tmp_path / REPORT_DIR).mkdir()
    (tmp_path / "old.npz").rename(tmp_path / REPORT_DIR / BASELINE_FILE)
    (tmp_path / MANIFEST).write_text(json.dumps({"drift_baseline": {"inputs": {}, "features": {
        "f": {"kind": "hashed", "num_bins": 100_000, "exact": True, "distinct": 49,
              "collision_rate": 0.0}}}}))
    loaded = drift_baseline.load(str(tmp_path))["features"]["f"]
    assert loaded["threshold"] == ALL and loaded["range_rows"].sum() == 49
    assert loaded["range_rows"][70_000 // 98] == 9

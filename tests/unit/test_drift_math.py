"""The drift math (docs/running.md "Drift against the frozen analysis"), against simulation."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from pipeline.config import DriftThresholds
from pipeline.diagnostics.drift import compare_feature, psi, psi_noise_level, share_shift, unseen


@pytest.mark.parametrize("categories,rows", [(10, 2_000), (10, 50_000), (200, 20_000)])
def test_the_noise_level_is_the_99th_percentile_of_psi_between_equal_distributions(
        categories, rows):
    rng = np.random.default_rng(categories + rows)
    shares = rng.dirichlet(np.full(categories, 5.0))
    values = [psi(rng.multinomial(rows, shares).astype(float),
                  rng.multinomial(rows, shares).astype(float)) for _ in range(1000)]
    simulated = float(np.quantile(values, 0.99))
    assert psi_noise_level(categories, rows, rows) == pytest.approx(simulated, rel=0.2)


def test_a_small_shift_on_little_data_is_noise_and_on_much_data_is_drift():
    then = np.array([500, 500])
    assert share_shift(then, np.array([450, 550]), 0.001)["psi_threshold"] > psi(
        then.astype(float), np.array([450.0, 550.0]))
    big = share_shift(then * 1000, np.array([450_000, 550_000]), 0.001)
    assert big["psi"] > big["psi_threshold"] == 0.001


def test_unseen_counts_rows_of_new_keys():
    baseline = np.array([1, 5, 9], dtype=np.uint64)
    figures = unseen(baseline, np.array([5, 7, 11], dtype=np.uint64), np.array([10, 3, 1]))
    assert figures == {"unseen_rate": 4 / 14, "unseen_rows": 4, "unseen_distinct": 2}


def test_a_feature_crosses_only_its_own_thresholds():
    thresholds = DriftThresholds(max_unseen_rate=0.05, max_psi=0.2,
                                 per_feature={"route": {"max_unseen_rate": 0.5}})
    then = {"keys": np.array([1, 2], dtype=np.uint64), "collision_rate": 0.0, "distinct": 2,
            "bin_rows": {0: 10, 1: 10}}
    now = {"keys": np.array([1, 3], dtype=np.uint64), "key_rows": np.array([9, 1]),
           "collision_rate": 0.0, "distinct": 2, "bin_rows": {0: 9, 1: 1}}
    route = compare_feature("route", "hashed", then, now, thresholds.for_feature("route"))
    other = compare_feature("other", "hashed", then, now, thresholds.for_feature("other"))
    assert route["unseen_rate"] == 0.1 and route["crossed"] == []
    assert [c["figure"] for c in other["crossed"]] == ["unseen_rate"]
    assert other["crossed"][0]["threshold"] == 0.05


def test_combination_keys_are_the_graphs_fingerprints():
    """key % num_bins is what tf.sparse.cross_hashed and to_hash_bucket_fast give."""
    import pyarrow as pa
    import tensorflow as tf

    from pipeline.config import parse_config
    from pipeline.diagnostics.fingerprints import BatchColumns, BatchCombinations

    config = parse_config({
        "input": {"format": "parquet"},
        "schema": {"a": {"type": "string"}, "b": {"type": "int"}},
        "features": [{"name": "ab", "cross": ["a", "b"], "num_bins": 997, "hash_key": 7},
                     {"name": "ba", "cross": ["b", "a"], "num_bins": 1000},
                     {"name": "b_id", "hash": "b", "num_bins": 50}]}, path="keys.yaml")
    a, b = ["x", "y", "東京", "", "x"], [3, -1, 2 ** 40, 0, 3]
    raw = pa.RecordBatch.from_arrays(
        [pa.array([[v.encode()] for v in a], pa.large_list(pa.large_binary())),
         pa.array([[v] for v in b], pa.large_list(pa.int64()))], ["a", "b"])
    features = {f.name: f for f in config.features}
    grouped = BatchCombinations(config, {n: f.num_bins for n, f in features.items()})(
        BatchColumns(raw, raw))
    columns = {"a": tf.constant([[v] for v in a]), "b": tf.constant([[v] for v in b], tf.int64)}

    def key_bins(name):
        keys, bins, rows, _ = grouped[name]
        assert (keys % np.uint64(features[name].num_bins) == bins).all()
        counts = collections.Counter()
        for bin_id, count in zip(bins.astype(np.int64).tolist(), rows.tolist()):
            counts[bin_id] += count
        return counts

    for name in ("ab", "ba"):
        feature = features[name]
        expected = tf.sparse.cross_hashed([columns[n] for n in feature.inputs],
                                          num_buckets=feature.num_bins,
                                          hash_key=feature.applied_hash_key).values.numpy()
        assert key_bins(name) == collections.Counter(expected.tolist())
    expected = tf.strings.to_hash_bucket_fast(tf.strings.as_string(b), 50).numpy()
    assert key_bins("b_id") == collections.Counter(expected.tolist())

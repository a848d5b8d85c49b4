"""A run above its diagnostics memory budget, end to end: the config's
`output.diagnostics_memory_mb` reaches the counts and `--diagnostics-memory-mb`
overrides it, a feature over its exact limit is sampled and says so, and its
figures and the drift against it hold their stated error against brute force
(docs/outputs.md "The memory budget", docs/running.md "Drift against the frozen
analysis")."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.support import SAMPLE_PARQUET, read_manifest, run_cli

CONFIG = """
input: {{format: parquet, pattern: {data}}}
schema:
  tailnum: {{type: string, default: ""}}
  flight:  {{type: int}}
  day:     {{type: int}}
  origin:  {{type: string}}
  dest:    {{type: string}}
features:
  - {{name: trip, cross: [tailnum, flight, day], num_bins: 1000000}}
  - {{name: route, cross: [origin, dest], num_bins: 10000}}
output: {{format: parquet, diagnostics_memory_mb: 1}}
"""
TRIP = ("tailnum", "flight", "day")


def combinations(path) -> list[tuple]:
    table = pq.read_table(path, columns=list(TRIP))
    columns = [["" if v is None else v for v in table[name].to_pylist()] for name in TRIP]
    return list(zip(*columns))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    sample = pq.read_table(SAMPLE_PARQUET)
    pq.write_table(sample.slice(0, 12_000), root / "analysis.parquet")
    pq.write_table(sample.slice(6_000, 12_000), root / "daily.parquet")
    config = root / "trips.yaml"
    config.write_text(CONFIG.format(data=root / "analysis.parquet"))
    # the analysis run takes the config's 1 MB; the daily run's flag overrides it
    assert run_cli("run", "--config", config, "--output", root / "frozen",
                   "--verify-rows", "0") == 0
    assert run_cli("run", "--config", config, "--input", root / "daily.parquet",
                   "--output", root / "daily", "--transform-fn", root / "frozen",
                   "--verify-rows", "0", "--diagnostics-memory-mb", "2") == 0
    return root


def test_the_flag_beats_the_config_key_and_the_manifest_records_the_budget_used(runs):
    frozen, daily = read_manifest(runs / "frozen"), read_manifest(runs / "daily")
    assert frozen["diagnostics_memory_mb"] == frozen["collisions"]["memory_budget_mb"] == 1
    assert daily["diagnostics_memory_mb"] == daily["collisions"]["memory_budget_mb"] == 2
    assert daily["collisions"]["exact_limit"] == 16_384  # 1 MB each at 64 bytes a key
    assert daily["collisions"]["methods"] == {"trip": "exact", "route": "exact"}


def test_the_feature_over_its_share_is_sampled_and_the_manifest_says_so(runs):
    section = read_manifest(runs / "frozen")["collisions"]
    assert section["memory_budget_mb"] == 1 and section["hashed_features"] == 2
    assert section["exact_limit"] == 8192  # 512 KB each at 64 bytes a key
    assert section["methods"] == {"trip": "sample", "route": "exact"}
    trips = combinations(runs / "analysis.parquet")
    entry, truth = section["features"]["trip"], len(set(trips))
    assert truth > 8192
    low, high = entry["distinct_bounds"]
    assert low <= truth <= high
    assert entry["rows"] == len(trips)
    # 1,000,000 bins do not fit as an array in 256 KB: the bins are sampled too
    assert {"bins_used_relative_error", "rows_per_bin_max_bounds"} <= set(entry)
    page = (runs / "frozen" / "report" / "index.html").read_text()
    assert "Memory budget 1 MB" in page and "(1 of 2 features" in page


def test_the_unseen_rate_against_a_sampled_baseline_holds_its_stated_error(runs):
    seen = set(combinations(runs / "analysis.parquet"))
    today = combinations(runs / "daily.parquet")
    truth = sum(1 for c in today if c not in seen) / len(today)
    row = next(r for r in read_manifest(runs / "daily")["drift"]["features"]
               if r["feature"] == "trip")
    assert row["unseen_method"].startswith("sample")
    assert 0 < row["unseen_rate_error"] < 0.05
    assert abs(row["unseen_rate"] - truth) <= 3 * row["unseen_rate_error"]
    route = next(r for r in read_manifest(runs / "daily")["drift"]["features"]
                 if r["feature"] == "route")
    assert route["unseen_method"] == "exact" and route["unseen_rate_error"] == 0.0
    size = (runs / "daily" / "report" / "drift_baseline.npz").stat().st_size
    assert size < 100_000
    assert np.isfinite(row["bin_shift"]["psi"])

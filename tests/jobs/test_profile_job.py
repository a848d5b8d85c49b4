"""`featurecross profile` (docs/outputs.md "Profile") on the flights sample, against counts by hand,
and on a column over its share of a small memory budget, against brute force.

Its usage errors, before any pipeline, are tests/unit/test_profile.py's.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.diagnostics.collisions import round_sizes
from tests.farmhash_reference import cross_hash, fingerprint64
from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, run_cli


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """(the --json figures, the terminal text) of one profile run of configs/flights.yaml."""
    import contextlib
    import io
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        code = run_cli("profile", "--config", FLIGHTS_CONFIG, "--input", SAMPLE_PARQUET,
                       "--max-collision-rate", "0.02", "--json", path)
    assert code == 0
    return json.loads(path.read_text()), text.getvalue()


@pytest.fixture(scope="module")
def sample() -> dict[str, list]:
    return pq.read_table(SAMPLE_PARQUET).to_pydict()


def test_inputs_match_counts_by_hand(profiled, sample):
    figures, _ = profiled
    assert figures["rows"] == len(sample["carrier"])
    assert set(figures["inputs"]) == {"carrier", "origin", "dest", "tailnum", "hour", "month"}
    for name, entry in figures["inputs"].items():
        raw = sample[name]
        default = {"tailnum": ""}.get(name)
        values = [default if v is None else v for v in raw]
        counts: dict = {}
        for value in values:
            counts[str(value)] = counts.get(str(value), 0) + 1
        assert entry["null_share"] == pytest.approx(sum(v is None for v in raw) / len(raw))
        assert entry["distinct"] == len(counts), name
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
        assert [(t["value"], t["count"]) for t in entry["top_values"]] == top, name
        assert entry["top_values_method"] == "exact"


def test_feature_figures_equal_the_collision_report_of_a_run(profiled, flights_parquet_run):
    figures, _ = profiled
    manifest = json.loads((flights_parquet_run / "manifest.json").read_text())
    for name, report in manifest["collisions"]["features"].items():
        entry = figures["features"][name]
        for key in ("distinct", "bins_used", "colliding", "collision_rate", "num_bins",
                    "expected_collision_rate", "rows_per_bin"):
            assert entry[key] == report[key], (name, key)


def _share(keys: np.ndarray, size: int) -> float:
    per_bin = np.unique(keys % np.uint64(size), return_counts=True)[1]
    return per_bin[per_bin > 1].sum() / len(keys)


def test_smallest_num_bins_meet_each_target_by_hand(profiled, sample):
    figures, _ = profiled
    routes = {(o, d) for o, d in zip(sample["origin"], sample["dest"])}
    tails = {"" if t is None else t for t in sample["tailnum"]}
    keys = {"route": np.array([cross_hash(r, 2**64) for r in routes], np.uint64),
            "tailnum_id": np.array([fingerprint64(t) for t in tails], np.uint64)}
    for name, distinct in keys.items():
        sizes = figures["features"][name]["smallest_num_bins"]
        assert set(sizes) == {"0.01", "0.02", "0.05"}
        for target, size in sizes.items():
            assert _share(distinct, size) <= float(target), (name, target)
            previous = max(s for s in round_sizes() if s < size)
            assert _share(distinct, previous) > float(target), (name, target)


def test_terminal_tables_show_inputs_and_features(profiled):
    _, text = profiled
    assert "categorical inputs:" in text and "hashed features" in text
    assert "bins@0.02" in text
    route = next(line for line in text.splitlines() if line.strip().startswith("route "))
    assert "10,000" in route and "212" in route


BUDGET_CONFIG = """
input: {{format: parquet, pattern: {data}}}
schema:
  user: {{type: string}}
  city: {{type: string, default: ""}}
  hour: {{type: int}}
features:
  - {{name: user_id, hash: user, num_bins: 1048576}}
  - {{name: city_x_hour, cross: [city, hour], num_bins: 2000}}
output: {{diagnostics_memory_mb: 512}}
"""


@pytest.fixture(scope="module")
def over_budget(tmp_path_factory):
    """(the --json figures, the text, the data) of a profile at --diagnostics-memory-mb 1,
    which overrides the config's 512: 3 columns and 2 hashed features share 1 MB, so
    each is exact up to 4,096 distinct values (the floor), and `user` has about 15,000."""
    import contextlib
    import io

    import pyarrow as pa
    root = tmp_path_factory.mktemp("profile-budget")
    rng = np.random.default_rng(20)
    rows = 30_000
    cities = [f"city-{i}" for i in rng.integers(0, 40, rows)]
    data = {"user": [f"u{i}" for i in rng.integers(0, 40_000, rows)],
            "city": [None if i % 17 == 0 else c for i, c in enumerate(cities)],
            "hour": rng.integers(0, 24, rows).tolist()}
    pq.write_table(pa.table(data), root / "users.parquet")
    config = root / "users.yaml"
    config.write_text(BUDGET_CONFIG.format(data=root / "users.parquet"))
    path, text = root / "profile.json", io.StringIO()
    with contextlib.redirect_stdout(text):
        code = run_cli("profile", "--config", config, "--diagnostics-memory-mb", "1",
                       "--json", path)
    assert code == 0
    return json.loads(path.read_text()), text.getvalue(), data


def test_the_flag_sets_the_budget_shared_by_columns_and_features(over_budget):
    figures, _, _ = over_budget
    assert figures["budget"] == {"memory_budget_mb": 1, "columns": 3, "hashed_features": 2,
                                 "exact_limit": 4096, "sample_keys": 4096}
    assert {entry["exact_limit"] for entry in figures["inputs"].values()} == {4096}
    assert {entry["exact_limit"] for entry in figures["features"].values()} == {4096}


def test_below_the_limit_the_figures_equal_brute_force(over_budget):
    figures, _, data = over_budget
    rows = len(data["user"])
    for name in ("city", "hour"):
        values = ["" if v is None else str(v) for v in data[name]]
        counts: dict = {}
        for value in values:
            counts[value] = counts.get(value, 0) + 1
        entry = figures["inputs"][name]
        assert entry["distinct_method"] == "exact" and entry["distinct"] == len(counts)
        assert entry["null_share"] == pytest.approx(sum(v is None for v in data[name]) / rows)
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
        assert [(t["value"], t["count"]) for t in entry["top_values"]] == top, name
    pairs = {("" if c is None else c, h) for c, h in zip(data["city"], data["hour"])}
    keys = np.array([cross_hash(pair, 2**64) for pair in pairs], np.uint64)
    cross = figures["features"]["city_x_hour"]
    assert cross["method"] == "exact" and cross["distinct"] == len(pairs)
    assert cross["collision_rate"] == pytest.approx(_share(keys, 2000))


def test_above_the_limit_the_estimates_say_so_and_hold_their_stated_error(over_budget):
    figures, text, data = over_budget
    truth = len(set(data["user"]))
    assert truth > 4096
    column, feature = figures["inputs"]["user"], figures["features"]["user_id"]
    assert column["distinct_method"] == "sample" and feature["method"].startswith("sample")
    for entry in (column, feature):
        low, high = entry["distinct_bounds"]
        assert low <= truth <= high
        assert abs(entry["distinct"] / truth - 1) <= 2 * entry["distinct_relative_error"]
    assert feature["rows"] == len(data["user"])  # rows stay exact
    user = next(line for line in text.splitlines() if line.strip().startswith("user "))
    assert f"~{column['distinct']:,}" in user
    assert "more than 4,096 distinct values, the exact limit per column of a 1 MB" in text
    assert "(sampled)" in next(line for line in text.splitlines()
                               if line.strip().startswith("user_id "))

"""`featurecross profile` (docs/outputs.md "Profile") on the flights sample, against counts by hand.

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

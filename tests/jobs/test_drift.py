"""Drift against the frozen analysis (docs/running.md "Drift against the frozen analysis").

The analysis run sees the first 12,000 sample flights without carrier WN.
The shifted daily data is the other 8,000 flights (WN included) plus 1,200
flights on routes that did not exist, half of them 10 miles long and half
20,000 miles (below and above every distance boundary). Every figure the
run reports is recomputed here by brute force from the raw columns the
output keeps (carrier, origin, dest) and the ids it wrote. The gate must
fail the shifted run with exit code 4 while its output is complete and
published; a transform-only rerun on the analysis data itself passes.
"""

from __future__ import annotations

import collections
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.diagnostics.drift import PSI_SMOOTHING
from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, run_cli

DROPPED_CARRIER = "WN"
NEW_ROUTES = 1200
DRIFT_BLOCK = """
drift:
  max_unseen_rate: 0.05
  max_psi: 0.2
  features:
    distance_bucket: {max_psi: 0.02}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    sample = pq.read_table(SAMPLE_PARQUET)
    analysed = sample.slice(0, 12000)
    analysed = analysed.filter(np.array(analysed["carrier"].to_pylist()) != DROPPED_CARRIER)
    pq.write_table(analysed, root / "analysis.parquet")
    daily = sample.slice(12000)
    new = daily.slice(0, NEW_ROUTES).to_pydict()
    new["origin"] = [f"N{i % 40:02d}" for i in range(NEW_ROUTES)]
    new["dest"] = [f"M{i % 30:02d}" for i in range(NEW_ROUTES)]
    new["distance"] = [10.0 if i % 2 else 20000.0 for i in range(NEW_ROUTES)]
    new_rows = pa.Table.from_pydict(new, schema=daily.schema)
    pq.write_table(pa.concat_tables([daily, new_rows]), root / "daily.parquet")

    text = FLIGHTS_CONFIG.read_text().replace("  format: tfrecord\n", "  format: parquet\n")
    plain = root / "flights.yaml"
    plain.write_text(text)
    gated = root / "flights_gated.yaml"
    gated.write_text(text + DRIFT_BLOCK)

    def run(name, config, data, *extra):
        out = root / name
        code = run_cli("run", "--config", config, "--input", data, "--output", out,
                       "--verify-rows", "0", *extra)
        return out, code

    frozen, code = run("frozen", plain, root / "analysis.parquet")
    assert code == 0
    shifted = run("shifted", gated, root / "daily.parquet", "--transform-fn", frozen)
    rerun = run("rerun", plain, root / "analysis.parquet", "--transform-fn", frozen,
                "--fail-on-drift")
    return {"frozen": frozen, "shifted": shifted, "rerun": rerun}


def _manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _drift_rows(out) -> dict[str, dict]:
    return {row["feature"]: row for row in _manifest(out)["drift"]["features"]}


def _columns(out, *names) -> dict[str, list]:
    tables = [pq.read_table(p, columns=list(names)) for p in sorted((out / "data").glob("*"))]
    return pa.concat_tables(tables).to_pydict()


def _combinations(out, inputs) -> list[tuple]:
    columns = _columns(out, *inputs)
    return list(zip(*(columns[name] for name in inputs)))


def _input_combinations(path, inputs) -> list[tuple]:
    table = pq.read_table(path, columns=list(inputs))
    return list(zip(*(table[name].to_pylist() for name in inputs)))


def _collision_rate(out, feature, inputs) -> float:
    """Share of distinct raw combinations whose bin holds another combination too."""
    columns = _columns(out, feature, *inputs)
    bins = dict(zip(zip(*(columns[name] for name in inputs)), columns[feature]))
    per_bin = collections.Counter(bins.values())
    return sum(1 for b in bins.values() if per_bin[b] > 1) / len(bins)


def _psi(then: list[int], now: list[int]) -> float:
    used = [i for i in range(len(then)) if then[i] or now[i]]
    p_total = sum(then) + PSI_SMOOTHING * len(used)
    q_total = sum(now) + PSI_SMOOTHING * len(used)
    total = 0.0
    for i in used:
        p = (then[i] + PSI_SMOOTHING) / p_total
        q = (now[i] + PSI_SMOOTHING) / q_total
        total += (q - p) * np.log(q / p)
    return total


@pytest.mark.parametrize("feature,inputs", [("route", ("origin", "dest")),
                                            ("carrier_x_hour", ("carrier", "hour"))])
def test_unseen_rate_matches_a_brute_force_count(runs, feature, inputs):
    root = runs["frozen"].parent
    seen = set(_input_combinations(root / "analysis.parquet", inputs))
    today = _input_combinations(root / "daily.parquet", inputs)
    unseen = sum(1 for combination in today if combination not in seen)
    row = _drift_rows(runs["shifted"][0])[feature]
    assert row["unseen_rows"] == unseen > 0
    assert row["unseen_rate"] == pytest.approx(unseen / len(today))
    assert row["unseen_distinct"] == len(set(today) - seen)


def test_collision_rate_then_and_now_match_a_brute_force_count(runs):
    frozen, (shifted, _) = runs["frozen"], runs["shifted"]
    row = _drift_rows(shifted)["route"]
    then = _collision_rate(frozen, "route", ("origin", "dest"))
    now = _collision_rate(shifted, "route", ("origin", "dest"))
    assert row["collision_rate_then"] == pytest.approx(then)
    assert row["collision_rate_now"] == pytest.approx(now)
    assert row["collision_rate_change"] == pytest.approx(now - then)
    assert now > then  # 1,200 new routes on 10,000 bins collide more


def test_bucket_shift_and_edge_buckets_match_a_brute_force_count(runs):
    frozen, (shifted, _) = runs["frozen"], runs["shifted"]
    boundaries = next(f["boundaries"] for f in _manifest(frozen)["features"]
                      if f["name"] == "distance_bucket")
    width = len(boundaries) + 1
    then = np.bincount(_columns(frozen, "distance_bucket")["distance_bucket"],
                       minlength=width).tolist()
    now = np.bincount(_columns(shifted, "distance_bucket")["distance_bucket"],
                      minlength=width).tolist()
    row = _drift_rows(shifted)["distance_bucket"]
    assert row["bucket_shift"]["psi"] == pytest.approx(_psi(then, now))
    shares_then, shares_now = np.array(then) / sum(then), np.array(now) / sum(now)
    assert row["bucket_shift"]["total_variation"] == pytest.approx(
        0.5 * np.abs(shares_then - shares_now).sum())
    edges = row["edge_buckets"]
    assert (edges["first_rows_then"], edges["last_rows_then"]) == (then[0], then[-1])
    assert (edges["first_rows_now"], edges["last_rows_now"]) == (now[0], now[-1])
    assert edges["first_rows_now"] >= NEW_ROUTES // 2 and edges["last_rows_now"] >= NEW_ROUTES // 2


def test_the_gate_fails_with_its_exit_code_and_the_output_is_complete(runs):
    shifted, code = runs["shifted"]
    assert code == 4
    assert (shifted / "_SUCCESS").exists()
    manifest = _manifest(shifted)
    daily_rows = pq.read_metadata(shifted.parent / "daily.parquet").num_rows
    assert manifest["rows"]["written"] == daily_rows
    assert sum(pq.read_metadata(p).num_rows for p in (shifted / "data").glob("*")) == daily_rows
    crossed = {(c["feature"], c["figure"]): c["threshold"]
               for c in manifest["drift"]["crossings"]}
    assert crossed[("route", "unseen_rate")] == 0.05
    assert ("carrier_x_hour", "unseen_rate") not in crossed  # WN is 3.4% of the flights
    assert _drift_rows(shifted)["carrier_x_hour"]["unseen_rate"] < 0.05
    assert crossed[("distance_bucket", "bucket_psi")] == pytest.approx(0.02)
    report = (shifted / "report" / "index.html").read_text()
    assert "Drift" in report and "unseen_rate" in report and "distance_bucket" in report
    # One page: the drift section comes first, then today's collision report.
    assert report.index("<h2>Drift</h2>") < report.index("<h2>Collision report</h2>")
    assert "aria-label='route occupancy'" in report


def test_an_unshifted_rerun_passes_the_gate_with_every_figure_written(runs):
    rerun, code = runs["rerun"]
    assert code == 0
    drift = _manifest(rerun)["drift"]
    assert drift["crossings"] == [] and drift["gate"] is True
    rows = {row["feature"]: row for row in drift["features"]}
    assert {"route", "carrier_x_hour", "tailnum_id", "carrier_id", "distance_bucket",
            "origin_x_distance", "month_season"} <= set(rows)
    assert rows["route"]["unseen_rate"] == 0.0
    assert rows["distance_bucket"]["bucket_shift"]["psi"] == pytest.approx(0.0, abs=1e-12)


def test_the_analysis_run_stores_its_baseline(runs):
    baseline = _manifest(runs["frozen"])["drift_baseline"]
    carriers = [entry["value"] for entry in baseline["inputs"]["carrier"]["top_values"]]
    assert DROPPED_CARRIER not in carriers and carriers[0] == "UA"
    assert baseline["features"]["route"]["distinct"] == len(
        set(_combinations(runs["frozen"], ("origin", "dest"))))
    assert (runs["frozen"] / "report" / "drift_baseline.npz").exists()

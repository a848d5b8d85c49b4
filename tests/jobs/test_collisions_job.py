"""The collision report (docs/outputs.md "Collision report") against brute-force counts.

The figures in manifest.json must equal what counting the output ids of the
run by hand gives: raw values or combinations per bin, from the rows
themselves. Above the exact limit the sketch must hold within its stated
error. That the NumPy fingerprints behind the counts are TF's own, and the
counting math alone, is tests/unit/test_collisions.py's.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import pathlib
from collections import defaultdict

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
import yaml
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that

from pipeline.config import Config, Feature, load_config, parse_config
from pipeline.diagnostics.budget import SAMPLE_KEYS
from pipeline.diagnostics.collision_counts import (
    CountCollisions,
    read_collisions,
    read_combinations,
)
from pipeline.diagnostics.fingerprints import (
    BatchColumns,
    BatchCombinations,
)
from pipeline.diagnostics.samples import ALL, range_width
from pipeline.transform.features import cross_ids
from pipeline.transform.raw_specs import as_lists
from tests.support import (
    SAMPLE_PARQUET,
    batch_rows,
    default_columns,
    read_manifest,
    read_raw_rows,
    run_cli,
)


@dataclasses.dataclass
class Case:
    """A finished run: its config, raw columns (defaults applied) and stored outputs."""
    out: pathlib.Path
    config: Config
    columns: dict[str, list]
    batch: dict[str, list]


@pytest.fixture(scope="module", params=["flights", "edge-parquet"])
def case(request) -> Case:
    if request.param == "flights":
        out = request.getfixturevalue("flights_parquet_run")
        config_path, parquet = read_manifest(out)["config_path"], SAMPLE_PARQUET
    else:
        run = request.getfixturevalue("edge_parquet_run")
        out, config_path, parquet = run.out, run.config, run.data.parquet
    config = load_config(str(config_path))
    columns = default_columns(read_raw_rows(parquet, config), config)
    return Case(out, config, columns, batch_rows(out, config))


def output_ids(case: Case, feature: Feature) -> list[list[int]]:
    """Each row's bin ids, read back from the stored output."""
    stored = case.batch[feature.name]
    if feature.output == "int":
        return [list(v) if feature.is_sequence else [v] for v in stored]
    if feature.sparse:
        return [list(indices) for indices, _ in stored]
    return [[int(np.argmax(v))] for v in stored]


def brute_force(case: Case, feature: Feature) -> dict:
    """Collision figures by hand: raw keys per output bin, rows per bin."""
    def cells(name: str) -> list[list]:
        if name in case.config.schema:
            column = case.config.schema[name]
            return [v if column.is_sequence else [v] for v in case.columns[name]]
        source = next(f for f in case.config.features if f.name == name)
        return output_ids(case, source)

    inputs = [cells(name) for name in feature.inputs]  # hashed in the listed order
    bins_of_key, keys_in_bin, rows_in_bin = defaultdict(set), defaultdict(set), defaultdict(int)
    for row, ids in enumerate(output_ids(case, feature)):
        keys = list(itertools.product(*[column[row] for column in inputs]))
        assert len(keys) == len(ids)
        for key, bin_id in zip(keys, ids):
            bins_of_key[key].add(bin_id)
            keys_in_bin[bin_id].add(key)
            rows_in_bin[bin_id] += 1
    assert all(len(bins) == 1 for bins in bins_of_key.values())
    rows = np.array(list(rows_in_bin.values()))
    colliding = sum(len(keys) for keys in keys_in_bin.values() if len(keys) > 1)
    return {"distinct": len(bins_of_key), "bins_used": len(keys_in_bin),
            "colliding": colliding, "collision_rate": colliding / len(bins_of_key),
            "rows": int(rows.sum()),
            "rows_per_bin": {"max": int(rows.max()),
                             "p50": int(np.percentile(rows, 50, method="lower")),
                             "p99": int(np.percentile(rows, 99, method="lower"))}}


def test_collision_figures_equal_a_brute_force_count_of_the_output(case):
    report = json.loads((case.out / "manifest.json").read_text())["collisions"]["features"]
    checked = [f for f in case.config.features
               if f.kind in ("cross", "hash") and f.output != "multi_hot"]
    assert {f.kind for f in checked} == {"cross", "hash"}
    for feature in checked:
        entry = report[feature.name]
        expected = brute_force(case, feature)
        assert {k: entry[k] for k in expected} == expected, feature.name
        assert entry["method"] == "exact"
        assert entry["expected_collision_rate"] == pytest.approx(
            1 - (1 - 1 / feature.num_bins) ** (expected["distinct"] - 1))


def test_multi_hot_features_are_counted_too(case):
    report = json.loads((case.out / "manifest.json").read_text())["collisions"]["features"]
    hashed = {f.name for f in case.config.features if f.kind in ("cross", "hash")}
    assert set(report) == hashed


def test_report_page_lists_the_worst_feature_first_with_a_chart_each(flights_parquet_run):
    report = json.loads((flights_parquet_run / "manifest.json").read_text())["collisions"]
    page = (flights_parquet_run / "report" / "index.html").read_text()
    rates = {name: entry["collision_rate"] for name, entry in report["features"].items()}
    positions = sorted(rates, key=lambda name: page.index(f"<td>{name}</td>"))
    assert [rates[n] for n in positions] == sorted(rates.values(), reverse=True)
    for name in rates:  # five features: each gets its inline chart, in the page itself
        assert f"aria-label='{name} occupancy'" in page, name
    assert [p.name for p in (flights_parquet_run / "report").glob("*.png")] == []


# --- above the exact limit -------------------------------------------------

SYNTHETIC = """
input: {format: parquet}
schema:
  a: {type: string}
  b: {type: int}
features:
  - {name: a_x_b, cross: [a, b], num_bins: 100000}
  - {name: a_id, hash: a, num_bins: 500}
"""
CARDINALITY_A, CARDINALITY_B = 200, 150  # 30,000 combinations


ROWS, BATCH_ROWS = 45_000, 8_192


def synthetic_columns(start: int = 0, stop: int = ROWS):
    """Rows where each of the a x b combinations occurs (known cardinalities).

    Returns the a and b columns and each row's combination number.
    """
    combination = np.arange(start, stop) % (CARDINALITY_A * CARDINALITY_B)
    words = np.array([f"value-{i}".encode() for i in range(CARDINALITY_A)], dtype=object)
    a = words[combination // CARDINALITY_B]
    b = (combination % CARDINALITY_B).astype(np.int64) * 7919 - 10**6
    return a, b, combination


def synthetic_batch(start: int) -> pa.RecordBatch:
    a, b, _ = synthetic_columns(start, min(start + BATCH_ROWS, ROWS))
    ones = np.ones(len(a), np.int64)
    return pa.RecordBatch.from_arrays([as_lists(a, ones), as_lists(b, ones)], names=["a", "b"])


def _truth(keys: np.ndarray, ids: np.ndarray) -> dict:
    """Brute-force figures from each row's key number and output id."""
    pairs = np.unique(np.stack([keys, ids]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1]  # one bin per key
    keys_per_bin = np.unique(pairs[1], return_counts=True)[1]
    rows_per_bin = np.unique(ids, return_counts=True)[1]
    return {"distinct": pairs.shape[1], "bins_used": len(keys_per_bin),
            "colliding": int(keys_per_bin[keys_per_bin > 1].sum()),
            "rows_per_bin": {"max": int(rows_per_bin.max()),
                             "p50": int(np.percentile(rows_per_bin, 50, method="lower")),
                             "p99": int(np.percentile(rows_per_bin, 99, method="lower"))}}


@pytest.mark.parametrize("exact_limit", [10**7, 10_000], ids=["exact", "sketch"])
def test_synthetic_cardinalities_through_the_beam_combine(exact_limit, tmp_path):
    config = parse_config(yaml.safe_load(SYNTHETIC))
    num_bins = {f.name: f.num_bins for f in config.features}
    batch_keys = BatchCombinations(config, num_bins)
    with test_pipeline.TestPipeline() as pipeline:
        written = (pipeline | beam.Create(range(0, ROWS, BATCH_ROWS))
                   | beam.Map(lambda start: batch_keys(BatchColumns(*[synthetic_batch(start)] * 2)))
                   | CountCollisions(str(tmp_path), exact_limit=exact_limit))
        assert_that(written | beam.combiners.Count.Globally(), lambda n: n == [1])
    report = read_collisions(str(tmp_path))["features"]

    a, b, combination = synthetic_columns()
    cross = cross_ids([tf.constant(a.astype(bytes)), tf.constant(b)], num_bins=100_000,
                      hash_key=config.features[0].applied_hash_key).numpy()
    hashed = tf.strings.to_hash_bucket_fast(a.astype(bytes), 500).numpy()
    truths = {"a_x_b": _truth(combination, cross),
              "a_id": _truth(combination // CARDINALITY_B, hashed)}
    assert truths["a_x_b"]["distinct"] == CARDINALITY_A * CARDINALITY_B
    assert truths["a_id"]["distinct"] == CARDINALITY_A
    for name, truth in truths.items():
        entry = report[name]
        if entry["method"] == "exact":
            assert {k: entry[k] for k in truth} == truth, name
            continue
        assert name == "a_x_b" and "sample" in entry["method"]
        low, high = entry["distinct_bounds"]
        assert low <= truth["distinct"] <= high
        assert abs(entry["distinct"] - truth["distinct"]) < 0.03 * truth["distinct"]
        assert entry["bins_used"] == truth["bins_used"]
        assert entry["rows_per_bin"] == truth["rows_per_bin"]
        assert entry["collision_rate"] == pytest.approx(
            truth["colliding"] / truth["distinct"], abs=0.01)
    assert report["a_id"]["method"] == "exact"
    assert (report["a_x_b"]["method"] == "exact") == (exact_limit > 30_000)
    # What the drift baseline gets from the same pass: a bottom-k sample of the distinct
    # keys (sorted; all of them below k) and rows per bin range, exact in both modes.
    kept = read_combinations(str(tmp_path), report)
    assert kept["a_id"]["exact"] and kept["a_id"]["key_rows"].sum() == ROWS
    assert len(kept["a_id"]["keys"]) == CARDINALITY_A and kept["a_id"]["threshold"] == ALL
    assert np.all(np.diff(kept["a_id"]["keys"]) > 0)
    assert kept["a_x_b"]["exact"] == (exact_limit > 30_000)
    assert len(kept["a_x_b"]["keys"]) == SAMPLE_KEYS and kept["a_x_b"]["threshold"] < ALL
    assert np.all(np.diff(kept["a_x_b"]["keys"]) > 0)
    width = range_width(100_000)
    np.testing.assert_array_equal(kept["a_x_b"]["range_rows"],
                                  np.bincount(cross // width, minlength=len(
                                      kept["a_x_b"]["range_rows"])))


def test_no_collision_report_flag_turns_it_off(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(f"""
input: {{format: parquet, pattern: {SAMPLE_PARQUET}}}
schema: {{origin: {{type: string}}}}
features: [{{name: origin_id, hash: origin, num_bins: 8}}]
output: {{format: parquet}}
""")
    out = tmp_path / "out"
    assert run_cli("run", "--config", config, "--output", out, "--no-collision-report") == 0
    assert [p.name for p in (out / "report").iterdir()] == ["drift_baseline.npz"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["collisions"] is None
    assert manifest["drift_baseline"]["features"] == {}  # the hashed counts are off too

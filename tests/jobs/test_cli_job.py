"""The CLI end to end: what a run writes and prints, and how it fails.

Whether the features are right, row by row, is test_parity.py's job; how
single rows are judged is test_rows.py's and test_sources.py's.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import load_config
from tests.support import (
    FLIGHTS_CONFIG,
    NO_PARITY_SAMPLE,
    SAMPLE_PARQUET,
    batch_rows,
    default_columns,
    invalid_rows,
    read_manifest,
    read_raw_rows,
    run_cli,
)

CONFIG = load_config(str(FLIGHTS_CONFIG))
FEATURES = {f.name: f for f in CONFIG.features}


def read_parquet_output(out) -> pa.Table:
    return pq.read_table(sorted((out / "data").glob("part-*.parquet")))


@pytest.fixture(scope="module")
def raw() -> dict[str, list]:
    """The raw sample's columns with the config's defaults applied."""
    return default_columns(read_raw_rows(SAMPLE_PARQUET, CONFIG), CONFIG)


def test_parquet_run_writes_every_row_and_the_declared_schema(flights_parquet_run):
    output = read_parquet_output(flights_parquet_run)
    manifest = read_manifest(flights_parquet_run)
    assert output.num_rows == pq.read_metadata(SAMPLE_PARQUET).num_rows
    assert manifest["rows"] == {"read": output.num_rows, "written": output.num_rows,
                                "quarantined": 0}
    spec = tft.TFTransformOutput(str(flights_parquet_run)).transformed_feature_spec()
    stored = set(output.column_names)
    for name, feature_spec in spec.items():
        if isinstance(feature_spec, tf.io.SparseFeature):
            assert {feature_spec.index_key[0], feature_spec.value_key} <= stored
        else:
            assert name in stored


def test_quantile_buckets_are_monotonic_and_balanced(flights_parquet_run, raw):
    buckets = np.array(read_parquet_output(flights_parquet_run)["distance_bucket"])
    num_buckets = FEATURES["distance_bucket"].num_buckets
    order = np.argsort(np.array(raw["distance"], np.float32), kind="stable")
    assert np.all(np.diff(buckets[order]) >= 0)
    assert set(np.unique(buckets)) <= set(range(num_buckets))
    assert len(np.unique(buckets)) >= num_buckets - 2  # distances repeat a lot per route


# hash_key as the edge config gives it -> the int64 TF's op gets (docs/config.md "Crosses
# and input order"): 0 is TF's default key, 2**64 - 1 is -1's 64 bits.
EDGE_HASH_KEYS = {"city_x_code": (0xDECAFCAFFE, 0xDECAFCAFFE),
                  "code_x_city_keyed": (12345, 12345), "city_x_code_one_hot": (0, 0xDECAFCAFFE),
                  "city_x_tags": (-1, -1), "city_tags_code": (2**64 - 1, -1)}


def test_manifest_records_the_hash_key_as_given_and_as_applied(edge_parquet_run):
    manifest = read_manifest(edge_parquet_run.out)
    keys = {f["name"]: (f["hash_key"], f["hash_key_applied"]) for f in manifest["features"]
            if f["kind"] == "cross"}
    assert {name: keys[name] for name in EDGE_HASH_KEYS} == EDGE_HASH_KEYS


def test_run_refuses_a_non_empty_output_without_overwrite(flights_parquet_run, capsys):
    before = sorted(p.name for p in flights_parquet_run.iterdir())
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", SAMPLE_PARQUET,
                   "--output", flights_parquet_run, *NO_PARITY_SAMPLE) == 1
    assert "not empty; pass --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in flights_parquet_run.iterdir()) == before


@pytest.fixture()
def dirty_parquet(tmp_path):
    """Ten sample rows where row 3 lacks a carrier (no default) and row 7 a dep_delay."""
    table = pq.read_table(SAMPLE_PARQUET).slice(0, 10)
    carrier = table["carrier"].to_pylist()
    carrier[3] = None
    delay = table["dep_delay"].to_pylist()
    delay[7] = None
    table = table.set_column(table.schema.get_field_index("carrier"), "carrier",
                             pa.array(carrier))
    table = table.set_column(table.schema.get_field_index("dep_delay"), "dep_delay",
                             pa.array(delay))
    path = tmp_path / "dirty.parquet"
    pq.write_table(table, path)
    return path


def test_invalid_row_stops_the_job_naming_file_row_and_column(dirty_parquet, tmp_path,
                                                              capsys):
    out = tmp_path / "out"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", dirty_parquet,
                   "--output", out, *NO_PARITY_SAMPLE) == 1
    error = capsys.readouterr().err
    assert f"{dirty_parquet}: row 3: column 'carrier'" in error
    assert "no default" in error
    assert not out.exists()
    assert not list(tmp_path.glob("out.tmp-*"))


def test_quarantine_sets_bad_rows_aside_and_counts_reconcile(dirty_parquet, tmp_path):
    out = tmp_path / "out"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", dirty_parquet,
                   "--output", out, "--on-invalid", "quarantine", *NO_PARITY_SAMPLE) == 0
    invalid = invalid_rows(out)
    assert [(r["file"], r["row"], r["column"]) for r in invalid] == [
        (str(dirty_parquet), 3, "carrier")]
    assert invalid[0]["values"]["carrier"] is None
    assert read_manifest(out)["rows"] == {"read": 10, "written": 9, "quarantined": 1}
    written = batch_rows(out, CONFIG)  # flights.yaml writes TFRecord
    assert len(written["route"]) == 9
    # Row 7's missing dep_delay took its default, 0.0, so its product is 0.
    assert written["delay_x_distance"][6] == 0.0


def test_an_unreadable_file_is_named(tmp_path, capsys):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file")
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", broken,
                   "--output", tmp_path / "out", *NO_PARITY_SAMPLE) == 1
    assert f"unreadable input: {broken}: cannot be read as Parquet" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_manifest_stats_describe_the_written_columns(flights_parquet_run):
    manifest = read_manifest(flights_parquet_run)
    stats = manifest["column_stats"]
    output = read_parquet_output(flights_parquet_run)
    for name in ("route", "distance_bucket", "delay_x_distance"):
        values = np.asarray(output[name], dtype=np.float64)
        assert stats[name]["rows"] == stats[name]["values"] == output.num_rows
        assert stats[name]["empty_rows"] == 0
        assert (stats[name]["min"], stats[name]["max"]) == (values.min(), values.max())
        assert stats[name]["mean"] == pytest.approx(values.mean())
    poly = FEATURES["delays_poly"]
    assert stats["delays_poly"]["values"] == output.num_rows * len(poly.polynomial_terms())
    assert set(manifest["timings"]) == {"pipeline", "parity_sample",
                                        "serving_export_and_manifest"}


def test_python_dash_m_runs_the_job_with_a_clean_terminal(flights_parquet_job):
    """The real entry point in a subprocess: summary on stdout, nothing on stderr."""
    done = flights_parquet_job.process
    assert done.stderr == ""
    rows = pq.read_metadata(SAMPLE_PARQUET).num_rows
    assert f"rows read:        {rows:,}" in done.stdout
    assert f"rows written:     {rows:,}" in done.stdout
    assert "rows quarantined: 0" in done.stdout
    assert str(flights_parquet_job.out) in done.stdout
    assert (flights_parquet_job.out / "manifest.json").exists()


def test_manifest_writes_non_finite_stats_as_null_with_a_note(edge_parquet_run):
    """The edge set's degree-3 polynomial of int64 extremes overflows float32."""
    manifest = read_manifest(edge_parquet_run.out)  # strict: NaN or Infinity would raise
    written = batch_rows(edge_parquet_run.out, load_config(str(edge_parquet_run.config)))
    poly = np.array(written["poly"], dtype=np.float64)
    assert not np.isfinite(poly).all()
    stats = manifest["column_stats"]
    nulls = [f"column_stats.{name}.{key}" for name, entry in stats.items()
             for key, value in entry.items() if value is None]
    assert "column_stats.poly.max" in nulls or "column_stats.poly.min" in nulls
    assert sorted(note.split(":")[0] for note in manifest["notes"]) == sorted(nulls)
    assert all("is not a finite number; written as null" in note for note in manifest["notes"])
    finite = np.array(written["code_id"], dtype=np.float64)
    assert stats["code_id"]["max"] == finite.max()

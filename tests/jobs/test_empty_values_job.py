"""Real runs on tf.Examples holding empty value lists (docs/config.md "Missing and
invalid values": an empty list is missing), with the parity sample on.

A gzip TFRecord file holds rows with a scalar feature left out, present with no kind
set, or present with an empty value list, for int, float, string and bool columns with
a default, for sequences, and for columns without a default. Until empty lists were
read as missing by serving/ too, the batch job filled the default while the serving
model refused the row (FixedLenFeature: "Values size: 0"), so the run's own parity
sample crashed. Now: the run exits 0 with a passing parity sample; the batch output
has the defaults; serving/ in a fresh process gives the batch output's ids for those
rows, the same as for the rows with the default written in; the rows without a default
are set aside naming the column in batch, and refused naming it in serving. The same
holds for a Parquet list column holding `[]` for a scalar, the same bug by another
door.
"""

from __future__ import annotations

import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml

from pipeline.config import load_config
from pipeline.transform.output_specs import output_feature_spec
from tests.support import (
    MISSING_FORMS,
    batch_rows,
    example_missing,
    examples,
    invalid_rows,
    read_manifest,
    row_differences,
    run_cli,
    serve_alone,
    tensors_to_rows,
)

SCHEMA = {
    "i": {"type": "int"}, "i_d": {"type": "int", "default": 7},
    "f": {"type": "float"}, "f_d": {"type": "float", "default": 0.5},
    "s": {"type": "string"}, "s_d": {"type": "string", "default": "zz"},
    "b_d": {"type": "bool", "default": True},
    "tags": {"type": "string", "shape": "sequence"},
    "codes": {"type": "int", "shape": "sequence"},
}
FEATURES = [
    {"name": "c1", "cross": ["i", "s"], "num_bins": 1000},
    {"name": "c2", "cross": ["i_d", "s_d", "b_d"], "num_bins": 1000},
    {"name": "b1", "bucketize": "f", "boundaries": [1.0, 2.0]},
    {"name": "b2", "bucketize": "f_d", "num_buckets": 3},   # quantiles: the defaults count
    {"name": "p", "product": ["f", "f_d"]},
    {"name": "h1", "hash": "tags", "num_bins": 100},
    {"name": "h2", "hash": "codes", "num_bins": 100},
]
KEEP = ["i_d", "f_d", "s_d", "b_d"]
DEFAULTS = {"i_d": 7, "f_d": 0.5, "s_d": b"zz", "b_d": 1}
WITH_DEFAULT = [*DEFAULTS, "tags", "codes"]
NO_DEFAULT = ["i", "f", "s"]
FULL_ROWS = 12


def base_row(k: int) -> dict:
    return {"i": k % 5, "i_d": 10 + k % 4, "f": 0.5 * k, "f_d": 1.25 * (k % 3),
            "s": "abc"[k % 3], "s_d": "pq"[k % 2], "b_d": k % 2,
            "tags": ["x", "y"][:k % 3], "codes": [k, k + 1]}


def write_config(root: pathlib.Path, input_format: str, output_format: str) -> pathlib.Path:
    path = root / f"{input_format}.yaml"
    path.write_text(yaml.safe_dump({
        "input": {"format": input_format}, "schema": SCHEMA, "features": FEATURES,
        "keep": KEEP, "output": {"format": output_format}}))
    return path


@pytest.fixture(scope="module")
def tfrecord_input(tmp_path_factory):
    """Rows: a no-default column's empty list first (row 0), full rows, then every
    missing case, each on its own copy of a base row. Returns the file, the config,
    the records and the cases [(record index, column, form)]."""
    root = tmp_path_factory.mktemp("empty_values")
    config_path = write_config(root, "tfrecord", "tfrecord")
    config = load_config(str(config_path))
    records, cases = [], []

    def add(k: int, name: str | None, form: str | None) -> None:
        row = base_row(k)
        if name is None:
            records.append(examples([row], config)[0])
        else:
            cases.append((len(records), name, form))
            records.append(example_missing(row, config.schema, name, form))

    add(0, "i", "empty")
    for k in range(FULL_ROWS):
        add(k, None, None)
    for name in [*WITH_DEFAULT, *NO_DEFAULT]:
        for form in MISSING_FORMS:
            if (name, form) != ("i", "empty"):
                add(len(records), name, form)
    path = root / "cases.tfrecord.gz"
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for record in records:
            writer.write(record)
    return {"path": path, "config_path": config_path, "config": config,
            "records": records, "cases": cases}


@pytest.fixture(scope="module")
def quarantine_run(tfrecord_input, tmp_path_factory):
    out = tmp_path_factory.mktemp("empty_values_run") / "out"
    code = run_cli("run", "--config", tfrecord_input["config_path"], "--input",
                   tfrecord_input["path"], "--output", out, "--on-invalid", "quarantine",
                   "--max-invalid-share", "0.5")
    return {"code": code, "out": out}


def valid_indices(data) -> list[int]:
    invalid = {index for index, name, _ in data["cases"] if name in NO_DEFAULT}
    return [index for index in range(len(data["records"])) if index not in invalid]


def test_the_run_passes_its_parity_sample_and_sets_aside_only_the_rows_without_defaults(
        tfrecord_input, quarantine_run):
    assert quarantine_run["code"] == 0
    manifest = read_manifest(quarantine_run["out"])
    valid = valid_indices(tfrecord_input)
    parity = manifest["parity_sample"]
    assert (parity["status"], parity["rows_served"], parity["unmatched_rows"]) == (
        "passed", len(valid), 0)
    expected = [(index, name, "is null or missing, and the column has no default")
                for index, name, _ in tfrecord_input["cases"] if name in NO_DEFAULT]
    assert sorted((row["row"], row["column"], row["reason"])
                  for row in invalid_rows(quarantine_run["out"])) == sorted(expected)


def test_the_batch_output_holds_the_defaults(tfrecord_input, quarantine_run):
    config = tfrecord_input["config"]
    batch = batch_rows(quarantine_run["out"], config)
    position = {index: n for n, index in enumerate(valid_indices(tfrecord_input))}
    for index, name, form in tfrecord_input["cases"]:
        if name in DEFAULTS:
            assert batch[name][position[index]] == DEFAULTS[name], (name, form)
        elif name in ("tags", "codes"):
            feature = {"tags": "h1", "codes": "h2"}[name]
            assert batch[feature][position[index]] == [], (name, form)


def test_serving_alone_gives_the_batch_ids_for_every_form_of_missing(tfrecord_input,
                                                                     quarantine_run):
    """In a fresh process: the raw records of every valid row, then the same missing
    rows with their defaults written in; both equal the batch output."""
    config, out = tfrecord_input["config"], quarantine_run["out"]
    valid = valid_indices(tfrecord_input)
    missing = [index for index, name, _ in tfrecord_input["cases"] if name not in NO_DEFAULT]
    explicit = []
    for index, name, _ in tfrecord_input["cases"]:
        if name not in NO_DEFAULT:
            row = base_row(index)
            row[name] = [] if name in ("tags", "codes") else SCHEMA[name]["default"]
            explicit.append(row)
    records = [tfrecord_input["records"][index] for index in valid]
    served = serve_alone(out / "serving", records + examples(explicit, config))
    spec = output_feature_spec(config)
    rows = tensors_to_rows(served.tensors, spec, len(records) + len(explicit))
    batch = batch_rows(out, config)
    names = list(spec)
    assert row_differences({n: rows[n][:len(records)] for n in names}, batch, names) == []
    position = {index: n for n, index in enumerate(valid)}
    batch_missing = {n: [batch[n][position[index]] for index in missing] for n in names}
    assert row_differences({n: rows[n][len(records):] for n in names}, batch_missing,
                           names) == []


def test_serving_refuses_an_empty_list_without_a_default_naming_the_column(
        tfrecord_input, quarantine_run):
    with pytest.raises(AssertionError,
                       match=r"column \\*'i\\*' is missing or empty, and the column has "
                             "no default"):
        serve_alone(quarantine_run["out"] / "serving", [tfrecord_input["records"][0]])


def test_an_empty_list_without_a_default_fails_a_run_naming_file_row_and_column(
        tfrecord_input, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli("run", "--config", tfrecord_input["config_path"], "--input",
                   tfrecord_input["path"], "--output", out)
    assert code == 1
    error = capsys.readouterr().err
    assert (f"invalid input: {tfrecord_input['path']}: row 0: column 'i': is null or "
            "missing, and the column has no default (value: [])") in error
    assert not out.exists() and not list(tmp_path.glob("out.tmp-*"))


def test_a_parquet_list_column_holding_an_empty_list_passes_the_parity_sample(tmp_path):
    rows = 40
    table = pa.table({
        "i": pa.array([[k % 5] for k in range(rows)], pa.list_(pa.int64())),
        "i_d": pa.array([[] if k % 4 == 1 else [10 + k % 4] for k in range(rows)],
                        pa.list_(pa.int64())),
        "f": pa.array([0.5 * k for k in range(rows)], pa.float64()),
        "f_d": pa.array([[] if k % 5 == 2 else [1.25 * (k % 3)] for k in range(rows)],
                        pa.list_(pa.float32())),
        "s": pa.array(["abc"[k % 3] for k in range(rows)]),
        "s_d": pa.array([[] if k % 3 == 0 else ["pq"[k % 2]] for k in range(rows)],
                        pa.list_(pa.string())),
        "b_d": pa.array([k % 2 for k in range(rows)], pa.int64()),
        "tags": pa.array([[] for _ in range(rows)], pa.list_(pa.string())),
        "codes": pa.array([[k] for k in range(rows)], pa.list_(pa.int64())),
    })
    pq.write_table(table, tmp_path / "lists.parquet")
    out = tmp_path / "out"
    assert run_cli("run", "--config", write_config(tmp_path, "parquet", "parquet"),
                   "--input", tmp_path / "lists.parquet", "--output", out) == 0
    parity = read_manifest(out)["parity_sample"]
    assert (parity["status"], parity["rows_served"], parity["unmatched_rows"]) == (
        "passed", rows, 0)
    kept = pq.read_table(sorted((out / "data").glob("part-*"))).to_pydict()
    assert kept["i_d"] == [7 if k % 4 == 1 else 10 + k % 4 for k in range(rows)]
    assert kept["s_d"] == ["zz" if k % 3 == 0 else "pq"[k % 2] for k in range(rows)]

"""Runs on the data users bring (issue 22), each on a small table the test builds:
pandas categories, booleans, NaN floats, a label carried by `keep:` and a column no
feature reads. One quarantine run serves the checks of the outputs (Parquet strings,
raw metadata, ids against TF's own ops, NaN counts), of serving/ (a request without the
label, NaN rows as the batch job read them) and of `verify` with and without --input."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml

from pipeline.config import load_config
from pipeline.transform.output_specs import output_feature_spec
from tests.support import (
    batch_rows,
    invalid_rows,
    read_manifest,
    run_cli,
    serve_alone,
    tensors_to_rows,
    to_example,
)

ROWS = 40
NAN_AMOUNT_ROWS = (3, 11, 25)   # NaN where the column has a default: read as the default
NAN_DISTANCE_ROW = 30           # NaN where it has none: the row is invalid
AMOUNT_DEFAULT = 0.0
BOUNDARIES = [0.0, 10.0, 20.0]


def table() -> pd.DataFrame:
    rng = np.random.default_rng(22)
    amount = rng.uniform(-5, 30, ROWS)
    amount[list(NAN_AMOUNT_ROWS)] = np.nan
    distance = rng.uniform(100, 1000, ROWS)
    distance[NAN_DISTANCE_ROW] = np.nan
    return pd.DataFrame({
        "grade": pd.Categorical(rng.choice(["A", "B", "C"], ROWS)),
        "flag": rng.choice([True, False], ROWS),
        "amount": amount,
        "distance": distance,
        "label": rng.choice(["Current", "Late"], ROWS),
        "loan_id": np.arange(ROWS, dtype=np.int64) + 1000,
        "unused": rng.integers(0, 5, ROWS),
    })


CONFIG = {
    "input": {"format": "parquet"},
    "schema": {
        "grade": {"type": "string"}, "flag": {"type": "bool"},
        "amount": {"type": "float", "default": AMOUNT_DEFAULT},
        "distance": {"type": "float"}, "label": {"type": "string"},
        "loan_id": {"type": "int"}, "unused": {"type": "int"},
    },
    "features": [
        {"name": "grade_x_flag", "cross": ["grade", "flag"], "num_bins": 1000},
        {"name": "flag_id", "hash": "flag", "num_bins": 10},
        {"name": "amount_bucket", "bucketize": "amount", "boundaries": BOUNDARIES},
        {"name": "distance_bucket", "bucketize": "distance", "num_buckets": 4},
    ],
    "keep": ["label", "loan_id", "grade"],
    "output": {"format": "parquet"},
}


def write_parquet(frame: pd.DataFrame, path: pathlib.Path) -> None:
    """The frame as Parquet with its NaNs as NaN (pandas would write them as nulls)."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for name in ("amount", "distance"):
        position = arrow.schema.get_field_index(name)
        arrow = arrow.set_column(position, name, pa.array(frame[name].to_numpy(),
                                                          from_pandas=False))
    assert pa.types.is_dictionary(arrow.schema.field("grade").type)
    pq.write_table(arrow, path)


def write_config(path: pathlib.Path, raw: dict) -> pathlib.Path:
    path.write_text(yaml.safe_dump(raw))
    return path


class Run:
    def __init__(self, root: pathlib.Path, frame: pd.DataFrame, code: int, stdout: str):
        self.root, self.frame, self.code, self.stdout = root, frame, code, stdout
        self.out = root / "out"
        self.input = root / "in.parquet"
        self.config = load_config(str(root / "config.yaml"))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """A quarantine run: one invalid row (NaN distance, no default) in 40, below 0.1."""
    import contextlib
    import io
    root = tmp_path_factory.mktemp("user_data")
    frame = table()
    write_parquet(frame, root / "in.parquet")
    config = write_config(root / "config.yaml", CONFIG)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run_cli("run", "--config", config, "--input", root / "in.parquet",
                       "--output", root / "out", "--on-invalid", "quarantine")
    return Run(root, frame, code, stdout.getvalue())


def test_the_run_publishes_and_counts_the_nan_rows(run):
    assert run.code == 0
    assert (run.out / "_SUCCESS").exists()
    manifest = read_manifest(run.out)
    assert manifest["rows"] == {"read": ROWS, "written": ROWS - 1, "quarantined": 1}
    assert manifest["rows_with_nan"] == len(NAN_AMOUNT_ROWS) + 1
    assert f"  rows with NaN:    {len(NAN_AMOUNT_ROWS) + 1} (NaN counts as missing" in run.stdout
    (invalid,) = invalid_rows(run.out)
    assert (invalid["row"], invalid["column"], invalid["reason"]) == (
        NAN_DISTANCE_ROW, "distance",
        "is NaN, and the column has no default (NaN counts as missing)")


def valid_frame(run: Run) -> pd.DataFrame:
    return run.frame.drop(index=NAN_DISTANCE_ROW).reset_index(drop=True)


def test_nan_takes_the_default_bucket_never_an_edge_bucket(run):
    rows = batch_rows(run.out, run.config)
    amounts = valid_frame(run)["amount"].fillna(AMOUNT_DEFAULT).to_numpy(np.float32)
    expected = np.searchsorted(np.array(BOUNDARIES, np.float32), amounts, side="right")
    assert rows["amount_bucket"] == expected.tolist()
    default_bucket = int(np.searchsorted(BOUNDARIES, AMOUNT_DEFAULT, side="right"))
    nan_positions = [i if i < NAN_DISTANCE_ROW else i - 1 for i in NAN_AMOUNT_ROWS]
    assert {rows["amount_bucket"][i] for i in nan_positions} == {default_bucket}
    assert default_bucket not in (0, len(BOUNDARIES))


def test_category_and_bool_ids_equal_tf_on_the_strings_and_int_zero_one(run):
    rows = batch_rows(run.out, run.config)
    frame = valid_frame(run)
    grades = tf.constant(frame["grade"].astype(str).tolist())[:, None]
    flags = tf.constant(frame["flag"].astype(np.int64).to_numpy())[:, None]
    crossed = tf.sparse.to_dense(tf.sparse.cross_hashed([grades, flags], num_buckets=1000))
    assert rows["grade_x_flag"] == crossed[:, 0].numpy().tolist()
    hashed = tf.keras.layers.Hashing(num_bins=10)(flags)
    assert rows["flag_id"] == hashed[:, 0].numpy().tolist()


def test_parquet_keeps_strings_as_strings(run):
    data = pd.read_parquet(run.out / "data")
    assert data["label"].tolist() == valid_frame(run)["label"].tolist()
    assert all(isinstance(v, str) for v in data["label"])
    assert len(data[data.grade == "C"]) == (valid_frame(run)["grade"] == "C").sum() > 0


def test_raw_feature_spec_reads_the_raw_metadata(run):
    import tensorflow_transform as tft
    spec = tft.TFTransformOutput(str(run.out)).raw_feature_spec()
    assert spec == {
        "grade": tf.io.FixedLenFeature([], tf.string),
        "flag": tf.io.FixedLenFeature([], tf.int64),
        "amount": tf.io.FixedLenFeature([], tf.float32),
        "distance": tf.io.FixedLenFeature([], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.string),
        "loan_id": tf.io.FixedLenFeature([], tf.int64),
        "unused": tf.io.FixedLenFeature([], tf.int64),
    }
    assert (run.out / "metadata" / "schema.pbtxt").exists()


def raw_rows(run: Run) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in row.items()} for row in valid_frame(run).to_dict("records")]


FEATURES = ["grade_x_flag", "flag_id", "amount_bucket", "distance_bucket"]


def test_serving_needs_no_label_and_no_unused_column(run):
    rows = raw_rows(run)
    for row in rows:
        del row["label"], row["loan_id"], row["unused"]
    schema = run.config.schema
    served = serve_alone(run.out / "serving", [to_example(row, schema) for row in rows])
    served_rows = tensors_to_rows(served.tensors, output_feature_spec(run.config), len(rows))
    batch = batch_rows(run.out, run.config)
    for name in FEATURES:
        assert served_rows[name] == batch[name], name


def test_serving_reads_nan_as_the_batch_job_did(run):
    rows = valid_frame(run).to_dict("records")  # NaN amounts sent as NaN, not left out
    assert sum(math.isnan(row["amount"]) for row in rows) == len(NAN_AMOUNT_ROWS)
    served = serve_alone(run.out / "serving", [to_example(row, run.config.schema)
                                               for row in rows])
    served_rows = tensors_to_rows(served.tensors, output_feature_spec(run.config), len(rows))
    batch = batch_rows(run.out, run.config)
    for name in FEATURES:
        assert served_rows[name] == batch[name], name
    bad = dict(run.frame.to_dict("records")[NAN_DISTANCE_ROW])  # NaN with no default
    with pytest.raises(AssertionError, match=r"column \\*'distance\\*' is NaN and has no default"):
        serve_alone(run.out / "serving", [to_example(bad, run.config.schema)])


def test_verify_defaults_to_the_runs_input(run, capsys):
    capsys.readouterr()
    assert run_cli("verify", run.out) == 0
    assert "OK: serving/ reproduces the batch output for every checked row" in (
        capsys.readouterr().out)


def test_verify_on_other_data_says_so_instead_of_a_parity_failure(run, tmp_path, capsys):
    other = table()
    other["loan_id"] += 5000  # rows the run never saw
    write_parquet(other, tmp_path / "other.parquet")
    capsys.readouterr()
    assert run_cli("verify", run.out, "--input", tmp_path / "other.parquet") == 1
    out = capsys.readouterr().out
    assert f"NOT CHECKED: {ROWS - 1} served rows are not in the batch output, but this input " \
           f"is not the run's own (the run read {run.input})" in out
    assert "mismatching rows" not in out


def test_suggest_takes_a_bool_label(run, capsys):
    capsys.readouterr()
    assert run_cli("suggest", "--config", run.root / "config.yaml", "--input", run.input,
                   "--label", "flag", "--top", "3") == 0
    assert "grade" in capsys.readouterr().out



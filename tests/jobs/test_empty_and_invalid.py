"""Empty and mostly invalid inputs fail clearly or say what they did (docs/running.md
"Invalid rows"): an analysis over no valid rows, a quarantine run that writes nothing or
sets aside more than the maximum invalid share, a declared column a file lacks; and a
tf.Example bool column read as int64 0/1."""

from __future__ import annotations

import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import yaml

from tests.support import NO_PARITY_SAMPLE, read_manifest, run_cli, to_example

SCHEMA = {"grade": {"type": "string"}, "flag": {"type": "bool"},
          "amount": {"type": "float"}}
QUANTILES = [{"name": "grade_x_flag", "cross": ["grade", "flag"], "num_bins": 100},
             {"name": "amount_bucket", "bucketize": "amount", "num_buckets": 3}]
HASH_ONLY = QUANTILES[:1]


def config(root: pathlib.Path, features: list, **extra) -> pathlib.Path:
    raw = {"input": {"format": "parquet"}, "schema": SCHEMA, "features": features,
           "output": {"format": "parquet"}, **extra}
    path = root / f"config-{len(list(root.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def parquet(path: pathlib.Path, rows: int, *, bad: int = 0, columns=None) -> pathlib.Path:
    """`rows` rows, the first `bad` of them with a null amount (no default: invalid)."""
    table = pa.table({
        "grade": pa.array([["A", "B"][i % 2] for i in range(rows)], pa.string()),
        "flag": pa.array([i % 3 == 0 for i in range(rows)], pa.bool_()),
        "amount": pa.array([None if i < bad else float(i) for i in range(rows)], pa.float64()),
    })
    pq.write_table(table.select(columns or table.column_names), path)
    return path


def nothing_published(out: pathlib.Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f"{out.name}.tmp-*"))


def last_error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_an_analysis_over_no_rows_fails_and_publishes_nothing(tmp_path, capsys):
    empty = parquet(tmp_path / "empty.parquet", 0)
    out = tmp_path / "out"
    code = run_cli("run", "--config", config(tmp_path, QUANTILES), "--input", empty,
                   "--output", out, *NO_PARITY_SAMPLE)
    assert code == 1
    assert last_error(capsys) == ("featurecross: no rows to analyse: 0 rows read, none "
                                  "valid; the analyzers (quantiles) need data; nothing was "
                                  "published")
    assert nothing_published(out)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """(config, OUT) of an analysis run with quantile buckets, for transform-only runs."""
    root = tmp_path_factory.mktemp("frozen")
    path = config(root, QUANTILES)
    assert run_cli("run", "--config", path, "--input", parquet(root / "in.parquet", 30),
                   "--output", root / "out", *NO_PARITY_SAMPLE) == 0
    return path, root / "out"


def test_a_transform_only_run_over_no_rows_is_allowed_and_says_so(frozen, tmp_path, capsys):
    path, frozen_out = frozen
    out = tmp_path / "day"
    capsys.readouterr()
    assert run_cli("run", "--config", path, "--input", parquet(tmp_path / "e.parquet", 0),
                   "--output", out, "--transform-fn", frozen_out) == 0
    printed = capsys.readouterr().out
    assert "  rows read:        0" in printed
    assert "  no rows:          the input has no valid rows" in printed
    assert (out / "_SUCCESS").exists()
    assert read_manifest(out)["rows"]["written"] == 0
    assert pq.read_table(out / "data").num_rows == 0


def test_a_config_without_analyzers_over_no_rows_is_allowed(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("run", "--config", config(tmp_path, HASH_ONLY), "--input",
                   parquet(tmp_path / "e.parquet", 0), "--output", out) == 0
    assert "  no rows:          the input has no valid rows" in capsys.readouterr().out
    assert (out / "_SUCCESS").exists()


def test_quarantine_with_every_row_invalid_fails_and_keeps_invalid_rows(tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli("run", "--config", config(tmp_path, HASH_ONLY), "--input",
                   parquet(tmp_path / "bad.parquet", 8, bad=8), "--output", out,
                   "--on-invalid", "quarantine", *NO_PARITY_SAMPLE)
    assert code == 1
    kept = tmp_path / "out.invalid"
    assert last_error(capsys) == (
        f"featurecross: no rows written: all 8 rows read are invalid; the invalid rows are in "
        f"{kept}/ for inspection; nothing was published")
    assert nothing_published(out)
    assert sorted(row["row"] for row in kept_rows(kept)) == list(range(8))


def kept_rows(kept: pathlib.Path) -> list[dict]:
    """The invalid rows a failed run kept in OUT.invalid/ (JSON lines, as in OUT/invalid/)."""
    return [json.loads(line) for path in sorted(kept.glob("part-*"))
            for line in path.read_text().splitlines()]


def test_an_invalid_share_above_the_maximum_fails_after_writing_invalid(tmp_path, capsys):
    out = tmp_path / "out"
    # 5 of 20 invalid (25%): under the config's 0.5, above the flag's 0.2, which wins.
    path = config(tmp_path, HASH_ONLY, **{"output": {"format": "parquet",
                                                     "max_invalid_share": 0.5}})
    code = run_cli("run", "--config", path, "--input", parquet(tmp_path / "in.parquet", 20,
                                                               bad=5),
                   "--output", out, "--on-invalid", "quarantine", "--max-invalid-share", "0.2",
                   *NO_PARITY_SAMPLE)
    assert code == 1
    assert last_error(capsys) == (
        "featurecross: 5 of 20 rows read (25.0%) are invalid, above the maximum invalid "
        "share 0.2 (output.max_invalid_share or --max-invalid-share); the invalid rows are "
        f"in {out}.invalid/ for inspection; nothing was published")
    assert nothing_published(out)
    assert len(kept_rows(tmp_path / "out.invalid")) == 5


def test_a_declared_column_the_file_lacks_is_named(tmp_path, capsys):
    lacking = parquet(tmp_path / "lacks.parquet", 4, columns=["grade", "flag"])
    out = tmp_path / "out"
    code = run_cli("run", "--config", config(tmp_path, HASH_ONLY), "--input", lacking,
                   "--output", out, *NO_PARITY_SAMPLE)
    assert code == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (f"featurecross: invalid input: {lacking} has no column "
                                   "'amount'; its columns are: grade, flag")
    assert nothing_published(out)


def test_a_tfrecord_bool_column_is_int64_zero_one_and_ids_equal_tf(tmp_path):
    schema_raw = {"grade": {"type": "string"}, "flag": {"type": "bool"}}
    from pipeline.config import parse_config
    schema = parse_config({"input": {"format": "tfrecord"}, "schema": schema_raw,
                           "features": HASH_ONLY}, path="x").schema
    rows = [{"grade": g, "flag": f} for g in ("A", "B", "C") for f in (0, 1)]
    path = tmp_path / "in.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in rows:
            writer.write(to_example(row, schema))
    raw = {"input": {"format": "tfrecord", "pattern": str(path)}, "schema": schema_raw,
           "features": [*HASH_ONLY, {"name": "flag_id", "hash": "flag", "num_bins": 7}],
           "keep": ["flag"], "output": {"format": "parquet", "dir": str(tmp_path / "out")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    assert run_cli("run", "--config", tmp_path / "c.yaml") == 0
    data = pq.read_table(tmp_path / "out" / "data").to_pydict()
    flags = tf.constant([[r["flag"]] for r in rows], tf.int64)
    grades = tf.constant([[r["grade"]] for r in rows])
    crossed = tf.sparse.to_dense(tf.sparse.cross_hashed([grades, flags], num_buckets=100))
    assert data["flag"] == [r["flag"] for r in rows]
    assert data["grade_x_flag"] == crossed[:, 0].numpy().tolist()
    assert data["flag_id"] == tf.keras.layers.Hashing(num_bins=7)(flags)[:, 0].numpy().tolist()

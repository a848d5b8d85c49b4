"""The publish protocol (docs/outputs.md "Output"): OUT is complete exactly when OUT/_SUCCESS
exists.

Local runs stage and rename, then write _SUCCESS; readers of a run (`verify`,
`--transform-fn`) refuse an OUT without _SUCCESS. Object-store runs write in
place: tests/unit/test_publish.py on a local directory, test_gcs.py for real
on gs://.
"""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.io.publish import SUCCESS
from tests.support import FLIGHTS_CONFIG, NO_PARITY_SAMPLE, SAMPLE_PARQUET, run_cli


def test_a_finished_run_writes_success_last(flights_parquet_run):
    success = flights_parquet_run / SUCCESS
    assert success.is_file()
    others = [p for p in flights_parquet_run.rglob("*") if p.is_file() and p != success]
    assert others
    assert max(p.stat().st_mtime_ns for p in others) <= success.stat().st_mtime_ns
    assert not list(flights_parquet_run.parent.glob(f"{flights_parquet_run.name}.tmp-*"))


@pytest.fixture()
def bad_row_parquet(tmp_path):
    """Twenty sample rows; row 5 has no carrier, and carrier has no default."""
    table = pq.read_table(SAMPLE_PARQUET).slice(0, 20)
    carrier = table["carrier"].to_pylist()
    carrier[5] = None
    table = table.set_column(table.schema.get_field_index("carrier"), "carrier",
                             pa.array(carrier))
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    return path


def test_a_failed_overwrite_leaves_the_previous_run_intact(flights_parquet_run,
                                                           bad_row_parquet, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(flights_parquet_run, out)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", bad_row_parquet,
                   "--output", out, "--overwrite", *NO_PARITY_SAMPLE) == 1
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert not list(tmp_path.glob("out.tmp-*"))


@pytest.fixture()
def unfinished_run(flights_parquet_run, tmp_path):
    """A copy of a finished run without its _SUCCESS: a run that failed or is running."""
    out = tmp_path / "unfinished"
    shutil.copytree(flights_parquet_run, out)
    (out / SUCCESS).unlink()
    return out


def test_verify_refuses_an_output_without_success(unfinished_run, capsys):
    assert run_cli("verify", unfinished_run, "--input", SAMPLE_PARQUET, "--rows", 10) == 1
    error = capsys.readouterr().err
    assert f"verify {unfinished_run}: no {SUCCESS} there" in error


def test_transform_only_refuses_a_graph_without_success(unfinished_run, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", SAMPLE_PARQUET,
                   "--output", out, "--transform-fn", unfinished_run, *NO_PARITY_SAMPLE) == 1
    assert f"--transform-fn {unfinished_run}: no {SUCCESS} there" in capsys.readouterr().err
    assert not out.exists()

"""The publish protocol (docs/outputs.md "Output"): OUT is complete exactly when OUT/_SUCCESS
exists.

Local runs stage and rename, then write _SUCCESS; object-store runs write in
place (tested here on a local directory, and for real on gs:// in
test_gcs.py). Readers of
a run (`verify`, `--transform-fn`) refuse an OUT without _SUCCESS.
"""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.io.publish import SUCCESS, Publication, PublishError, is_complete
from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, run_cli


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
                   "--output", out, "--overwrite") == 1
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
                   "--output", out, "--transform-fn", unfinished_run) == 1
    assert f"--transform-fn {unfinished_run}: no {SUCCESS} there" in capsys.readouterr().err
    assert not out.exists()


def copy_in(out, *, overwrite: bool = False) -> Publication:
    """The object-store protocol (staged, then copied in), here on a local directory."""
    return Publication(str(out), overwrite=overwrite, copy_in=True)


def test_object_store_runs_are_gs_paths():
    assert Publication("gs://b/out", overwrite=False).copy_in
    assert not Publication("/data/out", overwrite=False).copy_in


def test_object_store_runs_stage_next_to_out_and_copy_in_on_commit(tmp_path):
    out = tmp_path / "out"
    publication = copy_in(out)
    assert publication.work_dir == f"{out}.tmp-{publication.run_id}"
    publication.begin()
    staged = tmp_path / f"out.tmp-{publication.run_id}"
    (staged / "data").mkdir(parents=True)
    (staged / "data" / "part-0").write_text("rows")
    assert not out.exists()
    publication.commit()
    assert is_complete(str(out))
    assert sorted(p.name for p in out.iterdir()) == [SUCCESS, "data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging, no claim


def test_object_store_refuses_a_non_empty_output_and_touches_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "theirs").write_text("keep me")
    publication = copy_in(out)
    with pytest.raises(PublishError, match="is not empty .*; pass --overwrite"):
        publication.begin()
    publication.abort()
    assert [p.name for p in out.iterdir()] == ["theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_object_store_overwrite_keeps_the_old_output_until_commit(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("an earlier run")
    (out / SUCCESS).write_text("")
    publication = copy_in(out, overwrite=True)
    publication.begin()
    staged = tmp_path / f"out.tmp-{publication.run_id}"
    (staged / "data").mkdir(parents=True)
    (staged / "data" / "part-0").write_text("half a run")
    publication.abort()
    assert sorted(p.name for p in out.iterdir()) == [SUCCESS, "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

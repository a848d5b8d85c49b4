"""The publish protocol of object stores (docs/outputs.md "Output"), on a local directory.

Object-store runs stage next to OUT and copy in on commit, _SUCCESS last; an
overwrite keeps the old output until then. Local runs, and readers refusing an OUT without _SUCCESS,
are tests/jobs/test_publish_job.py's; gs:// for real is test_gcs.py's.
"""

from __future__ import annotations

import pytest

from pipeline.io.publish import SUCCESS, Publication, PublishError, is_complete


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

"""The publish protocol of object stores (docs/outputs.md "Output"), on a local directory.

Object-store runs write OUT in place, _SUCCESS on commit; a failure removes
what they wrote. Local runs, and readers refusing an OUT without _SUCCESS,
are tests/jobs/test_publish_job.py's; gs:// for real is test_gcs.py's.
"""

from __future__ import annotations

import pytest

from pipeline.io.publish import SUCCESS, Publication, PublishError, is_complete


def in_place(out) -> Publication:
    """The object-store protocol (OUT written in place), here on a local directory."""
    return Publication(str(out), overwrite=False, in_place=True)


def test_object_store_runs_are_gs_paths():
    assert Publication("gs://b/out", overwrite=False).in_place
    assert not Publication("/data/out", overwrite=False).in_place


def test_object_store_runs_write_in_place_and_success_on_commit(tmp_path):
    out = tmp_path / "out"
    publication = in_place(out)
    assert publication.work_dir == str(out)
    publication.begin()
    (out / "data").mkdir(parents=True)
    (out / "data" / "part-0").write_text("rows")
    assert not is_complete(str(out))
    publication.commit()
    assert is_complete(str(out))
    assert sorted(p.name for p in out.iterdir()) == [SUCCESS, "data"]


def test_object_store_refuses_a_non_empty_output_and_touches_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "theirs").write_text("keep me")
    publication = in_place(out)
    with pytest.raises(PublishError, match="is not empty; pass --overwrite"):
        publication.begin()
    publication.abort()
    assert [p.name for p in out.iterdir()] == ["theirs"]


def test_object_store_overwrite_empties_first_and_a_failure_removes_what_it_wrote(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("an earlier run")
    (out / SUCCESS).write_text("")
    publication = Publication(str(out), overwrite=True, in_place=True)
    publication.begin()
    assert not out.exists() or not list(out.iterdir())
    (out / "data").mkdir(parents=True)
    (out / "data" / "part-0").write_text("half a run")
    publication.abort()
    assert not out.exists() or not list(out.iterdir())

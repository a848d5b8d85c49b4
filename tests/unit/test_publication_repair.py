"""What the next run into OUT makes of a killed run's leftovers (docs/outputs.md "Publishing").

Each test lays out what a run killed at a given moment leaves (its claim,
with a dead pid, and its directories), starts the next publication, and
checks what a reader of OUT sees. tests/jobs/test_interrupted_runs.py kills
real runs at these moments.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from pipeline.io.claim import ClaimRecord
from pipeline.io.publish import COMMITTING, SUCCESS, Publication, PublishError, is_complete


def killed_run_claim(out) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    record = ClaimRecord("dead0000", socket.gethostname(), process.pid, "2026-01-01T00:00:00")
    (out.parent / f"{out.name}.claim").write_text(record.text())


def published(directory, content: str) -> None:
    (directory / "data").mkdir(parents=True)
    (directory / "data" / "part-0").write_text(content)
    (directory / SUCCESS).write_text("")


def names(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_kill_between_the_renames_of_an_overwrite_puts_the_old_output_back(tmp_path):
    out = tmp_path / "out"
    published(tmp_path / "out.old-dead0000", "the previous run")   # renamed aside, then killed
    (tmp_path / "out.tmp-dead0000" / "data").mkdir(parents=True)   # the new run, never renamed in
    killed_run_claim(out)
    publication = Publication(str(out), overwrite=True, run_id="next0000")
    publication.begin()
    assert (out / "data" / "part-0").read_text() == "the previous run" and is_complete(str(out))
    assert names(tmp_path) == ["out", "out.claim", "out.tmp-next0000"]
    assert any("broke the claim of run dead0000" in note for note in publication.notes)
    assert any("put the previous output back" in note for note in publication.notes)
    publication.abort()
    assert names(tmp_path) == ["out"]


def test_a_kill_before_success_of_a_renamed_in_output_keeps_the_old_one(tmp_path):
    out = tmp_path / "out"
    published(tmp_path / "out.old-dead0000", "the previous run")
    (out / "data").mkdir(parents=True)                             # renamed in, no _SUCCESS yet
    killed_run_claim(out)
    Publication(str(out), overwrite=True, run_id="next0000").begin()
    assert (out / "data" / "part-0").read_text() == "the previous run" and is_complete(str(out))


def test_a_kill_after_success_deletes_the_old_output(tmp_path):
    out = tmp_path / "out"
    published(tmp_path / "out.old-dead0000", "the previous run")
    published(out, "the new run")
    killed_run_claim(out)
    Publication(str(out), overwrite=True, run_id="next0000").begin()
    assert (out / "data" / "part-0").read_text() == "the new run"
    assert names(tmp_path) == ["out", "out.claim", "out.tmp-next0000"]


def test_a_killed_object_store_copy_is_finished_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    staged = tmp_path / "out.tmp-dead0000"
    (staged / "data").mkdir(parents=True)
    (staged / "data" / "part-0").write_text("the new run")
    (staged / COMMITTING).write_text("")
    (out / "data").mkdir(parents=True)                             # half copied, no _SUCCESS
    killed_run_claim(out)
    publication = Publication(str(out), overwrite=False, copy_in=True, run_id="next0000")
    with pytest.raises(PublishError, match="is not empty; pass --overwrite"):
        publication.begin()  # the finished copy is a published output like any other
    assert (out / "data" / "part-0").read_text() == "the new run" and is_complete(str(out))
    assert names(out) == [SUCCESS, "data"]
    assert any("finished publishing" in note for note in publication.notes)
    assert names(tmp_path) == ["out"]


def test_an_unmarked_object_store_staging_prefix_is_removed(tmp_path):
    out = tmp_path / "out"
    published(out, "the previous run")
    (tmp_path / "out.tmp-dead0000" / "tft_tmp").mkdir(parents=True)
    (tmp_path / "out.tmp-dead0000" / "tft_tmp" / "partial").write_text("x")
    killed_run_claim(out)
    Publication(str(out), overwrite=True, copy_in=True, run_id="next0000").begin()
    assert (out / "data" / "part-0").read_text() == "the previous run"
    assert names(tmp_path) == ["out", "out.claim", "out.tmp-next0000"]

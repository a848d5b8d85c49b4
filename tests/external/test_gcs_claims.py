"""Claims, leftovers and --overwrite on gs:// (the local emulator, tests/gcs_emulator.py).

docs/outputs.md "Publishing": a run claims OUT with a create-only-if-absent
write of OUT.claim, stages under OUT.tmp-RUNID and replaces OUT only at the
end, `_SUCCESS` last; a run killed in that replacement is finished by the
next run. Each test checks what a reader of the bucket sees.
"""

from __future__ import annotations

import collections
import signal
import socket

import pyarrow.parquet as pq
import pytest
import tensorflow as tf

import pipeline.io.claim as claim_module
from pipeline.io.claim import Claim, ClaimRecord
from pipeline.io.publish import SUCCESS, Publication
from tests.jobs.runs import HeldRun, run_args
from tests.support import run_cli, tfrecord_content

pytestmark = pytest.mark.external("gs:// emulator")


def listing(prefix: str) -> list[str]:
    """Names in the bucket directory of `prefix` that start with its last part."""
    parent, name = prefix.rsplit("/", 1)
    if not tf.io.gfile.exists(parent):
        return []
    return sorted(n.rstrip("/") for n in tf.io.gfile.listdir(parent) if n.startswith(name))


def rows(out: str) -> int:
    return sum(tfrecord_content(out).values())


def test_a_run_into_a_claimed_gcs_output_is_refused_at_once(gcs, small, capsys):
    out = f"{gcs.bucket}/claimed/out"
    holder = Claim(out, "held0000")
    holder.acquire()
    try:
        assert run_cli(*run_args(small, out)) == 1
    finally:
        holder.release()
    assert capsys.readouterr().err == (
        f"featurecross: the output directory {out} is claimed by run held0000 on "
        f"{socket.gethostname()} (pid {holder.record.pid}), started {holder.record.started}; "
        f"wait for it to finish (or remove {out}.claim if you know that run is gone)\n")
    assert listing(out) == []


def test_a_gone_runs_claim_and_partial_objects_are_cleaned_by_the_next_run(gcs, small,
                                                                           capsys, monkeypatch):
    out = f"{gcs.bucket}/gone/out"
    gone = ClaimRecord("dead0000", "another-host", 1, "2026-01-01T00:00:00")
    for name, text in ((f"{out}.claim", gone.text()),
                       (f"{out}.tmp-dead0000/tft_tmp/beam-temp", "partial"),
                       (f"{out}.tmp-dead0000/data/.parts-tmp/part", "partial")):
        with tf.io.gfile.GFile(name, "w") as handle:
            handle.write(text)
    monkeypatch.setattr(claim_module, "LEASE_SECONDS", 0.0)  # its lease has run out
    assert run_cli(*run_args(small, out)) == 0
    error = capsys.readouterr().err
    assert "featurecross: broke the claim of run dead0000 on another-host" in error
    assert f"featurecross: removed {out}.tmp-dead0000, left by a gone run" in error
    assert listing(out) == ["out"]
    assert SUCCESS in tf.io.gfile.listdir(out) and rows(out) == 200


@pytest.fixture()
def published(gcs, small, request):
    """A published gs:// output of the first 100 rows, for --overwrite to replace."""
    out = f"{gcs.bucket}/{request.node.name}/out"
    first_rows = small.parent / "first100.parquet"
    pq.write_table(pq.read_table(small).slice(0, 100), first_rows)
    assert run_cli(*run_args(first_rows, out)) == 0
    return out


def test_an_overwrite_killed_while_writing_data_keeps_the_previous_gcs_output(
        published, small, tmp_path):
    before = tfrecord_content(published)
    held = HeldRun(run_args(small, published, "--overwrite"), "data", tmp_path)
    held.wait_until_paused()
    held.signal(signal.SIGKILL)
    assert SUCCESS in tf.io.gfile.listdir(published)
    assert tfrecord_content(published) == before and rows(published) == 100


def test_a_kill_inside_the_gcs_replacement_is_finished_by_the_next_run(published, small,
                                                                       tmp_path, capsys):
    held = HeldRun(run_args(small, published, "--overwrite"), "commit", tmp_path)
    held.wait_until_paused()
    held.signal(signal.SIGKILL)
    # The window: the old output is gone, the new one staged and marked, no _SUCCESS.
    assert not tf.io.gfile.exists(f"{published}/{SUCCESS}")
    staged = [n for n in listing(published) if ".tmp-" in n]
    assert len(staged) == 1

    assert run_cli(*run_args(small, published)) == 1  # refused: OUT is published again
    error = capsys.readouterr().err
    assert "finished publishing" in error and "is not empty" in error
    assert SUCCESS in tf.io.gfile.listdir(published) and rows(published) == 200
    assert listing(published) == ["out"]


def test_the_gcs_replacement_window_of_a_small_run(gcs, small, tmp_path):
    """How long OUT has no _SUCCESS while --overwrite replaces it (docs/outputs.md)."""
    local = tmp_path / "local"
    assert run_cli(*run_args(small, local)) == 0
    files = [p for p in local.rglob("*") if p.is_file()]
    out = f"{gcs.bucket}/window/out"
    windows = collections.defaultdict(float)
    for attempt in range(2):  # the second replaces the first: the window that matters
        publication = Publication(out, overwrite=True)
        publication.begin()
        for path in files:
            tf.io.gfile.makedirs(f"{publication.work_dir}/{path.parent.relative_to(local)}")
            tf.io.gfile.copy(str(path), f"{publication.work_dir}/{path.relative_to(local)}",
                             overwrite=True)
        publication.commit()
        windows[attempt] = publication.replace_seconds
    print(f"\n{len(files)} files replaced on the emulator in {windows[1]:.2f} s")
    assert windows[1] < 60
    assert SUCCESS in tf.io.gfile.listdir(out) and listing(out) == ["out"]

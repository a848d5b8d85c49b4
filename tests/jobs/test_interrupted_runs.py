"""Nothing lost when runs are killed, collide or are interrupted (docs/outputs.md "Publishing").

Each test holds a real run (`python -m pipeline run` in a subprocess) at a
named moment (pipeline/io/pause_points.py), kills or interrupts it there,
and checks what a reader of OUT sees then and after the next run.
"""

from __future__ import annotations

import shutil
import signal
import socket

import pytest

from pipeline.io.claim import ClaimRecord
from pipeline.io.publish import SUCCESS
from tests.jobs.runs import HeldRun, run_args, siblings, tree
from tests.support import run_cli


@pytest.fixture(scope="module")
def previous_run(small, tmp_path_factory):
    """A published output for --overwrite to replace."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert run_cli(*run_args(small, out)) == 0
    return out


@pytest.fixture()
def published_out(previous_run, tmp_path):
    out = tmp_path / "outs" / "out"
    shutil.copytree(previous_run, out)
    return out


def test_a_run_killed_while_writing_data_publishes_nothing_and_the_next_run_cleans_up(
        small, tmp_path, capsys):
    out = tmp_path / "outs" / "out"
    held = HeldRun(run_args(small, out), "data", tmp_path)
    held.wait_until_paused()
    assert held.signal(signal.SIGKILL)[0] == -signal.SIGKILL
    assert not out.exists()
    leftovers = siblings(out)
    assert "out.claim" in leftovers and any(n.startswith("out.tmp-") for n in leftovers)

    assert run_cli(*run_args(small, out)) == 0
    error = capsys.readouterr().err
    assert "featurecross: broke the claim of run " in error
    assert f"on {socket.gethostname()} (pid {held.process.pid})" in error
    assert "left by a gone run" in error
    assert siblings(out) == ["out"]
    assert (out / SUCCESS).exists()


def test_a_run_killed_while_exporting_serving_leaves_the_previous_output_published(
        published_out, small, tmp_path):
    before = tree(published_out)
    held = HeldRun(run_args(small, published_out, "--overwrite"), "serving", tmp_path)
    held.wait_until_paused()
    held.signal(signal.SIGKILL)
    assert tree(published_out) == before
    assert (published_out / SUCCESS).exists()


def test_a_run_killed_inside_the_commit_of_an_overwrite_is_undone_by_the_next_run(
        published_out, small, tmp_path, capsys):
    before = tree(published_out)
    held = HeldRun(run_args(small, published_out, "--overwrite"), "commit", tmp_path)
    held.wait_until_paused()
    held.signal(signal.SIGKILL)
    # Killed between its two renames: the old output is set aside, whole, with its _SUCCESS.
    (aside,) = [published_out.parent / n for n in siblings(published_out)
                if n.startswith("out.old-")]
    assert tree(aside) == before and not published_out.exists()

    assert run_cli(*run_args(small, published_out)) == 1  # no --overwrite: refused, repaired
    error = capsys.readouterr().err
    assert f"put the previous output back from {aside}" in error
    assert f"the output directory {published_out} is not empty" in error
    assert tree(published_out) == before
    assert siblings(published_out) == ["out"]


def test_two_runs_at_once_the_second_is_refused_and_ctrl_c_publishes_nothing(
        small, tmp_path, capsys):
    out = tmp_path / "outs" / "out"
    first = HeldRun(run_args(small, out), "data", tmp_path)
    first.wait_until_paused()
    holder = ClaimRecord.parse((out.parent / "out.claim").read_text())

    assert run_cli(*run_args(small, out)) == 1
    refused = capsys.readouterr().err
    assert refused == (f"featurecross: the output directory {out} is claimed by run "
                       f"{holder.run_id} on {socket.gethostname()} (pid {first.process.pid}), "
                       f"started {holder.started}; wait for it to finish (or remove "
                       f"{out}.claim if you know that run is gone)\n")

    code, stderr = first.signal(signal.SIGINT)
    assert code == 130
    assert stderr.strip().splitlines()[-1] == "featurecross: interrupted; nothing published"
    assert "Traceback" not in stderr
    assert siblings(out) == []  # no output, no staging, no claim

    assert run_cli(*run_args(small, out)) == 0
    assert (out / SUCCESS).exists() and siblings(out) == ["out"]


def test_sigterm_inside_the_commit_of_an_overwrite_puts_the_old_output_back(
        published_out, small, tmp_path):
    before = tree(published_out)
    held = HeldRun(run_args(small, published_out, "--overwrite"), "commit", tmp_path)
    held.wait_until_paused()
    code, stderr = held.signal(signal.SIGTERM)
    assert (code, stderr.strip().splitlines()[-1]) == (
        130, "featurecross: interrupted; nothing published")
    assert tree(published_out) == before
    assert siblings(published_out) == ["out"]

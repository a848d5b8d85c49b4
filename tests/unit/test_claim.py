"""The claim on OUT (docs/outputs.md "Publishing"): one run at a time, gone runs' claims broken.

A claim is the file OUT.claim, created only if absent. These tests claim
local directories the way runs do and read what a second run is told.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from pipeline.io.claim import LEASE_SECONDS, Claim, ClaimError, ClaimRecord


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_claim(out, record: ClaimRecord, *, age: float = 0.0) -> None:
    path = f"{out}.claim"
    with open(path, "w") as handle:
        handle.write(record.text())
    then = time.time() - age
    os.utime(path, (then, then))


def test_a_second_claim_is_refused_naming_the_run_that_holds_it(tmp_path):
    out = tmp_path / "out"
    first = Claim(str(out), "aaaa1111")
    first.acquire()
    second = Claim(str(out), "bbbb2222")
    with pytest.raises(ClaimError) as refused:
        second.acquire()
    message = str(refused.value)
    assert "\n" not in message
    assert f"the output directory {out} is claimed by run aaaa1111 on " \
           f"{socket.gethostname()} (pid {os.getpid()}), started {first.record.started}" in message
    first.release()
    assert not (tmp_path / "out.claim").exists()
    second.acquire()  # free again
    second.release()


def test_of_many_runs_claiming_at_once_exactly_one_gets_out(tmp_path):
    out = str(tmp_path / "out")
    claims = [Claim(out, f"run{n:05d}") for n in range(8)]
    outcomes: list[str] = []

    def claim(one: Claim) -> None:
        try:
            one.acquire()
            outcomes.append("claimed")
        except ClaimError:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim, args=(one,)) for one in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed"] + ["refused"] * 7
    for one in claims:
        one.release()


def test_the_claim_of_a_dead_process_on_this_host_is_broken(tmp_path):
    out = tmp_path / "out"
    gone = ClaimRecord("dead0000", socket.gethostname(), dead_pid(), "2026-01-01T00:00:00")
    write_claim(out, gone)
    claim = Claim(str(out), "next0000")
    claim.acquire()
    assert claim.broken == gone
    assert ClaimRecord.parse((tmp_path / "out.claim").read_text()).run_id == "next0000"
    claim.release()


def test_a_claim_from_another_host_holds_until_its_lease_runs_out(tmp_path):
    out = tmp_path / "out"
    elsewhere = ClaimRecord("far00000", "another-host", 12345, "2026-01-01T00:00:00")
    write_claim(out, elsewhere, age=LEASE_SECONDS / 2)
    with pytest.raises(ClaimError, match="claimed by run far00000 on another-host"):
        Claim(str(out), "next0000").acquire()
    write_claim(out, elsewhere, age=LEASE_SECONDS + 1)
    claim = Claim(str(out), "next0000")
    claim.acquire()
    assert claim.broken == elsewhere
    claim.release()


def test_an_output_under_a_regular_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    out = tmp_path / "file" / "out"
    with pytest.raises(ClaimError) as refused:
        Claim(str(out), "aaaa1111").acquire()
    assert str(refused.value) == (f"the output directory {out} cannot be written: a part of "
                                  "that path is a regular file, not a directory")

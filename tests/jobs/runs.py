"""Runs of the CLI for the job tests: a small input, runs held at a pause point, and
what a reader sees in an output's parent directory."""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import time

import pyarrow.parquet as pq

from pipeline.io.pause_points import PAUSE_AT, PAUSE_FILE
from tests.support import FLIGHTS_CONFIG, NO_PARITY_SAMPLE, REPO, SAMPLE_PARQUET

SMALL_ROWS = 200


def small_input(directory: pathlib.Path) -> pathlib.Path:
    path = directory / "small.parquet"
    pq.write_table(pq.read_table(SAMPLE_PARQUET).slice(0, SMALL_ROWS), path)
    return path


def run_args(source, out, *extra) -> list[str]:
    return ["run", "--config", str(FLIGHTS_CONFIG), "--input", str(source), "--output",
            str(out), *NO_PARITY_SAMPLE, *map(str, extra)]


class HeldRun:
    """`python -m pipeline ARGS` in a subprocess, held at the pause point `at`."""

    def __init__(self, args: list[str], at: str, scratch: pathlib.Path,
                 env: dict[str, str] | None = None) -> None:
        self.marker = scratch / f"paused-at-{at}-{time.monotonic_ns()}"
        environment = {**os.environ, **(env or {}), PAUSE_AT: at, PAUSE_FILE: str(self.marker)}
        self.process = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=REPO,
                                        env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)

    def wait_until_paused(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not self.marker.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError("the run never reached its pause point:\n"
                                     + self.process.communicate()[1][-3000:])
            time.sleep(0.2)

    def signal(self, signum: int) -> tuple[int, str]:
        """Sends `signum`; returns the exit code and stderr."""
        self.process.send_signal(signum)
        _, stderr = self.process.communicate(timeout=120)
        return self.process.returncode, stderr


def tree(directory: pathlib.Path) -> dict[str, str]:
    """Every file under `directory` by relative path, with its SHA-256: what a reader sees."""
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def siblings(out: pathlib.Path) -> list[str]:
    """Names next to OUT that belong to it (OUT, its claim, staging and set-aside dirs)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name))

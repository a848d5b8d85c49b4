"""A Beam worker pool from a virtualenv holding only the project's wheel.

This is the stand-in for a Dataflow worker container: the workers get the
installed wheel (and its pinned dependencies) and nothing of the driver's
checkout, working directory or globals. The virtualenv is cached under
`.cache/worker-venv/` (gitignored) keyed by setup.py, so only the first run
pays for installing TensorFlow and friends; the wheel itself is rebuilt and
reinstalled on every session, without dependencies, so the workers always run
the code under test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "worker-venv"


def _clean_env() -> dict[str, str]:
    """The environment minus anything that would let the venv see the checkout."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def _run(args: list, **kwargs) -> None:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          env=_clean_env(), **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-4000:]}")


def build_wheel(target: Path) -> Path:
    """`pip wheel --no-deps .`: the project exactly as it would ship."""
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
          target, REPO], cwd=target)
    (wheel,) = target.glob("featurecross-*.whl")
    return wheel


def worker_venv(wheel: Path) -> tuple[Path, float]:
    """(python of a venv with only `wheel` and its pinned deps, seconds spent installing)."""
    key = hashlib.sha256((REPO / "setup.py").read_bytes()
                         + sys.version.encode()).hexdigest()[:12]
    venv = CACHE / key
    python = venv / "bin" / "python"
    started = time.monotonic()
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", venv])
        _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=venv)
        _run([python, "-m", "pip", "check"], cwd=venv)
        (venv / ".complete").write_text(wheel.name + "\n")
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
          wheel], cwd=venv)
    return python, time.monotonic() - started


class WorkerPool:
    """`python -m apache_beam.runners.worker.worker_pool_main` on a free port."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.scratch = Path(tempfile.mkdtemp(prefix="featurecross-workers-"))
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        log = open(self.scratch / "worker-pool.log", "wb")  # noqa: SIM115 (kept open)
        for _attempt in range(3):  # the port can be taken between probe and bind
            self.port = _free_port()
            # cwd is an empty directory: the workers import only what is installed.
            # The pool starts each worker as `python ...`: the venv's, first on PATH.
            env = _clean_env()
            env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
            self.process = subprocess.Popen(
                [str(self.python), "-m", "apache_beam.runners.worker.worker_pool_main",
                 "--service_port", str(self.port)],
                cwd=self.scratch, env=env, stdout=log, stderr=log)
            if _wait_listening(self.port, self.process):
                return
            self.process.kill()
            self.process.wait()
        raise RuntimeError(f"the worker pool did not start; see {self.scratch}/worker-pool.log")

    def workers_started(self) -> int:
        """How many SDK worker processes the pool has started (from its log)."""
        log = (self.scratch / "worker-pool.log").read_text(errors="replace")
        return log.count("Starting worker with command")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False

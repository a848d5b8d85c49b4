"""A default run makes no network connection (docs/running.md "Runners").

Beam's DirectRunner would first try to download the Prism runner; the
pinned local runner does not. The proxy variables point at a local listener
that must receive nothing while a small run succeeds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from pipeline.io.publish import SUCCESS
from tests.jobs.runs import run_args, small_input
from tests.support import REPO

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                   "all_proxy")


def run_behind_a_listening_proxy(args: list[str]) -> tuple[subprocess.CompletedProcess, int]:
    """Runs `python -m pipeline ARGS`; returns it and how many connections the proxy got."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = {**os.environ, **dict.fromkeys(PROXY_VARIABLES, proxy), "NO_PROXY": "",
               "no_proxy": ""}
        done = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=900)
        connections = 0
        while True:
            try:
                listener.accept()[0].close()
            except BlockingIOError:
                return done, connections
            connections += 1


def test_a_default_run_makes_no_network_connection(tmp_path):
    out = tmp_path / "out"
    done, connections = run_behind_a_listening_proxy(run_args(small_input(tmp_path), out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / SUCCESS).exists()
    assert connections == 0

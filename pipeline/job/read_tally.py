"""Rows the row check has seen so far, per pass, in this process: what the progress
line counts.

Beam's own counters are only readable when a local pipeline has finished; this
tally is read while it runs. It sees the rows of workers that share the
driver's process (the DirectRunner's default in-memory mode); elsewhere it
stays at zero and the progress line shows the stage and the time alone.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_rows = {"analysis": 0, "transform": 0}


def add(pass_name: str, rows: int) -> None:
    with _lock:
        _rows[pass_name] += rows


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_rows)


def reset() -> None:
    with _lock:
        for name in _rows:
            _rows[name] = 0

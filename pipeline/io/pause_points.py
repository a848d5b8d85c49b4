"""Named moments at which a test can hold a run, to kill or interrupt it right there.

A run passes these points as it writes (`data` while writing part files,
`serving` while exporting the serving model, `commit` inside the commit,
between taking the old output away and putting the new one in). When the
environment names a point in FEATURECROSS_PAUSE_AT, the run touches the file
FEATURECROSS_PAUSE_FILE there and sleeps, so a test knows the moment has come
(tests/jobs/test_interrupted_runs.py). Otherwise a point costs one lookup.
"""

from __future__ import annotations

import os
import time

PAUSE_AT = "FEATURECROSS_PAUSE_AT"
PAUSE_FILE = "FEATURECROSS_PAUSE_FILE"


def pause_point(name: str) -> None:
    if os.environ.get(PAUSE_AT) != name:
        return
    marker = os.environ.get(PAUSE_FILE)
    if marker:
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
    time.sleep(3600)

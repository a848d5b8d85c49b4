"""Progress on real runs (pipeline/job/progress.py): a live line on a pseudo-terminal,
at most a plain line per 30 s without one, nothing with --quiet."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support import FLIGHTS_CONFIG, REPO, SAMPLE_PARQUET

FAST = ("--verify-rows", "0", "--no-collision-report", "--overwrite")
PROGRESS = re.compile(r"featurecross: (analysis pass|transform pass|[a-z /]+?)  "
                      r"[^\r\n]*?\d:\d\d:\d\d")


def on_a_terminal(*args: str) -> tuple[int, str]:
    """`python -m pipeline ARGS` with stdout and stderr on a pseudo-terminal."""
    main, side = pty.openpty()
    env = dict(os.environ, TERM="xterm", FEATURECROSS_PROGRESS_AFTER="1", COLUMNS="120")
    process = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=REPO,
                               stdin=subprocess.DEVNULL, stdout=side, stderr=side, env=env)
    os.close(side)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    return process.wait(timeout=900), output.decode(errors="replace")


def test_a_run_shows_a_live_line_on_a_terminal(tmp_path):
    # The sample ten times over: each pass then lasts several of the line's
    # refreshes (every 0.5 s), however fast the machine, so both passes show.
    copies = 10
    table = pq.read_table(SAMPLE_PARQUET)
    pq.write_table(pa.concat_tables([table] * copies), tmp_path / "flights.parquet")
    code, output = on_a_terminal("run", "--config", str(FLIGHTS_CONFIG),
                                 "--input", str(tmp_path / "flights.parquet"),
                                 "--output", str(tmp_path / "out"), *FAST)
    assert code == 0, output[-3000:]
    assert "\x1b[2K" in output  # the line is redrawn in place
    shown = PROGRESS.findall(output)
    assert "analysis pass" in shown and "transform pass" in shown, output[-3000:]
    rows_of_both_passes = 2 * copies * table.num_rows
    assert re.search(rf"\d[\d,]*/{rows_of_both_passes:,} rows  [\d,]+ rows/s", output)
    assert "featurecross: done in" in output


def test_quiet_shows_nothing_but_the_summary(tmp_path):
    code, output = on_a_terminal("run", "--config", str(FLIGHTS_CONFIG),
                                 "--output", str(tmp_path / "out"), "--quiet", *FAST)
    assert code == 0, output[-3000:]
    assert not PROGRESS.search(output) and "\x1b[" not in output
    assert output.lstrip().startswith("featurecross: done in")


def test_without_a_terminal_at_most_a_line_per_30_seconds(tmp_path):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config",
                           str(FLIGHTS_CONFIG), "--output", str(tmp_path / "out"), *FAST],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert all(PROGRESS.fullmatch(line) for line in lines), lines
    assert len(lines) <= elapsed // 30, (elapsed, lines)
    assert "\x1b[" not in done.stderr + done.stdout

"""What a run shows while it works (docs/running.md "Progress").

On a terminal, one live line (rich): the stage, rows checked of the input's
rows, the rate and the time so far. Without one (a log, a scheduler), a plain
line at most every 30 s. Nothing at all when disabled (`--quiet`). A Dataflow
job's id and console link are printed as soon as it is submitted.

Shown from a thread of the driver; it starts after a short delay, so quick
runs stay silent. `FEATURECROSS_PROGRESS_AFTER` and `FEATURECROSS_PROGRESS_EVERY`
(seconds) change the delay and the plain lines' interval.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from pipeline.config import Config
from pipeline.job import read_tally

AFTER_SECONDS = 2.0    # nothing before this: a quick run prints only its summary
EVERY_SECONDS = 30.0   # the plain lines' interval without a terminal
TICK_SECONDS = 0.5     # the live line's refresh


class Progress:
    """The progress display of one run; a context manager around `run_job`."""

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None,
                 after: float | None = None, every: float | None = None,
                 terminal: bool | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.after = _seconds("FEATURECROSS_PROGRESS_AFTER", after, AFTER_SECONDS)
        self.every = _seconds("FEATURECROSS_PROGRESS_EVERY", every, EVERY_SECONDS)
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.stage_name = "starting"
        self.input_rows: int | None = None
        self.input_bytes = 0
        self.input_files = 0
        self.passes = 1
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = None

    def __enter__(self) -> "Progress":
        read_tally.reset()
        self.started = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._show, name="featurecross-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    # --- what run_job tells it ---------------------------------------------

    def measure_input(self, config: Config, *, analyze: bool) -> None:
        """The totals known before reading: files, bytes, and rows of Parquet footers."""
        if not self.enabled:
            return
        from apache_beam.io.filesystems import FileSystems
        files = FileSystems.match([config.input_pattern])[0].metadata_list
        self.input_files = len(files)
        self.input_bytes = sum(f.size_in_bytes for f in files)
        self.passes = 2 if analyze and config.needs_analysis else 1
        if config.input_format == "parquet" and all("://" not in f.path for f in files):
            import pyarrow as pa
            import pyarrow.parquet as pq
            try:
                self.input_rows = sum(pq.ParquetFile(f.path).metadata.num_rows for f in files)
            except (OSError, pa.ArrowException):
                pass  # an unreadable file: the run itself names it (README "Exit codes")

    def stage(self, name: str) -> None:
        self.stage_name = name

    def submitted(self, result, options) -> None:
        """A Dataflow job's id and console link, as soon as `run()` returned."""
        job_id = getattr(result, "job_id", None)
        if not self.enabled or not callable(job_id):
            return
        from apache_beam.options.pipeline_options import GoogleCloudOptions
        cloud = options.view_as(GoogleCloudOptions)
        self._print(f"featurecross: Dataflow job {job_id()} submitted: "
                    f"{console_url(job_id(), cloud.region, cloud.project)}")

    # --- the display -------------------------------------------------------

    def line(self) -> str:
        """The stage, rows checked of the total (every pass), the rate and the time so far."""
        elapsed = time.monotonic() - self.started
        rows = read_tally.snapshot()
        stage = self.stage_name
        if stage == "pipeline":
            stage = "transform pass" if rows["transform"] or self.passes == 1 else "analysis pass"
        parts = [f"featurecross: {stage}"]
        done = rows["analysis"] + rows["transform"]
        if done:
            of = f"/{self.input_rows * self.passes:,}" if self.input_rows else ""
            parts.append(f"{done:,}{of} rows  {done / elapsed:,.0f} rows/s")
        elif self.input_files:
            parts.append(f"input {_size(self.input_bytes)} in {self.input_files:,} "
                         f"file{'s' if self.input_files != 1 else ''}")
        parts.append(_clock(elapsed))
        return "  ".join(parts)

    def _show(self) -> None:
        if self._stop.wait(self.after):
            return
        if self.terminal:
            self._show_live()
            return
        next_line = self.started + self.every
        while not self._stop.wait(max(next_line - time.monotonic(), 0)):
            self._print(self.line())
            next_line += self.every

    def _show_live(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text
        def text() -> Text:
            return Text(self.line(), no_wrap=True, overflow="ellipsis")

        with Live(text(), console=Console(file=self.stream), transient=True,
                  auto_refresh=False) as live:
            while not self._stop.wait(TICK_SECONDS):
                live.update(text(), refresh=True)

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def console_url(job_id: str, region: str | None, project: str | None) -> str:
    return (f"https://console.cloud.google.com/dataflow/jobs/{region or 'us-central1'}/"
            f"{job_id}?project={project or ''}")


def _seconds(variable: str, given: float | None, default: float) -> float:
    if given is not None:
        return given
    try:
        return float(os.environ.get(variable, default))
    except ValueError:
        return default


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def _size(count: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000:
            return f"{count:,.0f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"

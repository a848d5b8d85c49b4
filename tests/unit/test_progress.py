"""The progress display (pipeline/job/progress.py) on its own: the plain lines' rate,
the line's figures, silence when disabled, and the Dataflow job link
(tests/jobs/test_progress_run.py shows it on real runs)."""

from __future__ import annotations

import io
import time

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.job import read_tally
from pipeline.job.progress import Progress


class Stamped(io.StringIO):
    """A stream that remembers when each line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.times.append(time.monotonic())
        return super().write(text)


def run_for(seconds: float, **settings) -> Stamped:
    stream = Stamped()
    with Progress(stream=stream, terminal=False, **settings) as progress:
        progress.stage("pipeline")
        time.sleep(seconds)
    return stream


def test_without_a_terminal_a_plain_line_at_most_every_interval():
    stream = run_for(1.3, after=0.0, every=0.4)
    lines = stream.getvalue().splitlines()
    assert 2 <= len(lines) <= 3, lines
    gaps = [b - a for a, b in zip(stream.times, stream.times[1:])]
    assert all(gap >= 0.35 for gap in gaps), gaps
    assert all(line.startswith("featurecross: transform pass  ") for line in lines)


def test_the_default_interval_is_30_seconds():
    assert Progress(stream=io.StringIO(), terminal=False).every == 30.0
    assert run_for(1.0, after=0.0).getvalue() == ""


def test_disabled_it_shows_nothing():
    stream = Stamped()
    with Progress(enabled=False, stream=stream, terminal=False, after=0, every=0.1) as shown:
        time.sleep(0.3)
        shown.submitted(FakeDataflowResult(), PipelineOptions([]))
    assert stream.getvalue() == ""


def test_the_line_counts_rows_of_every_pass():
    progress = Progress(stream=io.StringIO(), terminal=False)
    with progress:
        progress.input_rows, progress.passes = 2000, 2
        progress.stage("pipeline")
        assert "analysis pass" in progress.line()
        read_tally.add("analysis", 2000)
        read_tally.add("transform", 500)
        line = progress.line()
    assert line.startswith("featurecross: transform pass  2,500/4,000 rows  ")
    assert " rows/s  0:00:0" in line


class FakeDataflowResult:
    """What DataflowRunner.run() returns, as far as the progress display reads it."""

    def job_id(self) -> str:
        return "2026-12-02_01_02_03-1234567890"


def test_a_dataflow_job_is_announced_with_its_console_link():
    stream = io.StringIO()
    options = PipelineOptions(["--project", "my-project", "--region", "europe-west1"])
    with Progress(stream=stream, terminal=False) as progress:
        progress.submitted(FakeDataflowResult(), options)
        progress.submitted(object(), options)  # a local run's result has no job id
    assert stream.getvalue() == (
        "featurecross: Dataflow job 2026-12-02_01_02_03-1234567890 submitted: "
        "https://console.cloud.google.com/dataflow/jobs/europe-west1/"
        "2026-12-02_01_02_03-1234567890?project=my-project\n")


def test_an_unreadable_file_leaves_the_total_unknown(tmp_path):
    """The run, not the progress line, reports a broken file (tests/test_cli.py)."""
    from pipeline.config import parse_config
    (tmp_path / "broken.parquet").write_bytes(b"not a parquet file")
    config = parse_config({"input": {"format": "parquet",
                                     "pattern": str(tmp_path / "*.parquet")},
                           "schema": {"a": {"type": "string"}},
                           "features": [{"name": "h", "hash": "a", "num_bins": 8}]})
    progress = Progress(stream=io.StringIO(), terminal=False)
    progress.measure_input(config, analyze=True)
    assert (progress.input_files, progress.input_rows, progress.passes) == (1, None, 1)

"""Session fixtures: each expensive CLI run happens once and is shared.

The flights runs use configs/flights.yaml on the shipped sample; the edge
runs use tests/edge_data.py's edge-value set and config. Tests must not
change these outputs: copy one first (see test_verify.py) to tamper with it.

At the end of a run, a summary says where the time went: the shared runs
below, the tests marked `external` (they start an outside system: the gs://
emulator, a worker pool's virtualenv, the image's launcher run), and the rest.
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib
import subprocess
import sys
import time

import pytest

from pipeline.cli.main import quiet_libraries

quiet_libraries()  # before the imports below bring TensorFlow in (and its start-up lines)

from tests import edge_data  # noqa: E402
from tests.support import (  # noqa: E402
    FLIGHTS_CONFIG,
    NO_PARITY_SAMPLE,
    REPO,
    SAMPLE_TFRECORD,
    run_cli,
)


@dataclasses.dataclass(frozen=True)
class Job:
    out: pathlib.Path
    process: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def flights_parquet_job(tmp_path_factory) -> Job:
    """configs/flights.yaml on the Parquet sample, Parquet out, run as a user runs it:
    `python -m pipeline` in a subprocess (its terminal output is checked in test_cli.py)."""
    out = tmp_path_factory.mktemp("runs") / "parquet"
    config = _config_with_output_format(tmp_path_factory, "parquet")
    done = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", str(config),
                           "--output", str(out), "--quiet"],  # no progress line
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return Job(out, done)


@pytest.fixture(scope="session")
def flights_parquet_run(flights_parquet_job) -> pathlib.Path:
    return flights_parquet_job.out


@pytest.fixture(scope="session")
def flights_tfrecord_run(tmp_path_factory) -> pathlib.Path:
    """configs/flights.yaml on the TFRecord sample, TFRecord out; no parity sample
    (see NO_PARITY_SAMPLE: test_verify.py serves this run)."""
    out = tmp_path_factory.mktemp("runs") / "tfrecord"
    config = _config_with_output_format(tmp_path_factory, "tfrecord", input_format="tfrecord")
    assert run_cli("run", "--config", config, "--input", SAMPLE_TFRECORD, "--output", out,
                   *NO_PARITY_SAMPLE) == 0
    return out


@pytest.fixture(scope="session")
def edge_parquet_run(tmp_path_factory) -> edge_data.EdgeRun:
    """The edge-value set (seed A) as Parquet, Parquet out."""
    return edge_data.run_edge_set(tmp_path_factory.mktemp("edge_parquet"))


@pytest.fixture(scope="session")
def edge_tfrecord_run(tmp_path_factory) -> edge_data.EdgeRun:
    """The edge-value set (seed A) as TFRecord, TFRecord out."""
    return edge_data.run_edge_set(tmp_path_factory.mktemp("edge_tfrecord"),
                                  input_format="tfrecord", output_format="tfrecord")


def _config_with_output_format(tmp_path_factory, output_format: str, *,
                               input_format: str = "parquet") -> pathlib.Path:
    text = FLIGHTS_CONFIG.read_text()
    text = text.replace("  format: tfrecord\n", f"  format: {output_format}\n")
    text = text.replace("  format: parquet\n", f"  format: {input_format}\n", 1)
    text = text.replace("pattern: data/", f"pattern: {REPO}/data/")
    path = tmp_path_factory.mktemp("configs") / f"flights_{input_format}_{output_format}.yaml"
    path.write_text(text)
    return path


# Module scope: the emulator's proxy settings (HTTPS_PROXY, ...) live in this
# process's environment, so they must not outlast the module that uses them
# (test_workers.py's pip would send PyPI requests to the test proxy).
@pytest.fixture(scope="module")
def gcs():
    """A local GCS emulator with one bucket (`gcs.bucket`, a gs:// URL); see gcs_emulator.py."""
    from tests.gcs_emulator import EmulatorUnavailable, start_emulator
    try:
        emulator = start_emulator()
    except EmulatorUnavailable as error:
        pytest.skip(f"gs:// tests need the local GCS emulator, which cannot start here: "
                    f"{error}")
    emulator.bucket = emulator.create_bucket("featurecross-test")
    yield emulator
    emulator.stop()


# --- where the time went -------------------------------------------------------
# A plugin, not conftest hooks: session fixtures are set up by the session node,
# which this directory's conftest hooks do not see. Each report carries what the
# summary needs in its user_properties.

def pytest_configure(config):
    config.pluginmanager.register(TimeByGroup(), "featurecross-time-by-group")


class TimeByGroup:
    def __init__(self) -> None:
        self.shared_runs_set_up: list[tuple[str, float]] = []  # since the last report

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        started = time.perf_counter()
        yield
        if fixturedef.scope == "session" and fixturedef.func.__module__ == __name__:
            self.shared_runs_set_up.append((fixturedef.argname, time.perf_counter() - started))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        report.user_properties += [("shared_run", run) for run in self.shared_runs_set_up]
        self.shared_runs_set_up.clear()
        external = item.get_closest_marker("external")
        if external:
            report.user_properties.append(("external", external.args[0]))

    def pytest_terminal_summary(self, terminalreporter):
        """Seconds of setup + call + teardown by group; a shared run counts apart from
        the test that first needed it."""
        groups: collections.Counter = collections.Counter()
        files: dict[str, set] = collections.defaultdict(set)
        shared: collections.Counter = collections.Counter()
        for reports in terminalreporter.stats.values():
            for report in reports:
                if getattr(report, "when", None) not in ("setup", "call", "teardown"):
                    continue
                seconds = report.duration
                group = "other tests"
                for key, value in report.user_properties:
                    if key == "shared_run":
                        shared[value[0]] += value[1]
                        seconds -= value[1]
                    elif key == "external":
                        group = f"external: {value}"
                groups[group] += seconds
                files[group].add(report.nodeid.split("::")[0])
        if not groups:
            return
        write = terminalreporter.write_line
        terminalreporter.section("time by group (seconds; setup + call + teardown)")
        runs = [f"{name} {seconds:.1f}" for name, seconds in shared.most_common()
                if seconds >= 0.05]
        write(f"{sum(shared.values()):7.1f}  shared session runs (conftest.py): "
              + ", ".join(runs))
        for group, seconds in sorted(groups.items(), key=lambda item: item[0] == "other tests"):
            named = "" if group == "other tests" else f" ({', '.join(sorted(files[group]))})"
            write(f"{seconds:7.1f}  {group}{named}")

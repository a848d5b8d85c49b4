"""Session fixtures: each expensive CLI run happens once and is shared.

The flights runs use configs/flights.yaml on the shipped sample; the edge
runs use tests/edge_data.py's edge-value set and config. Tests must not
change these outputs: copy one first (see test_verify.py) to tamper with it.

The tests are sorted by cost into folders: unit/ runs no pipeline (and so
never asks for these fixtures), jobs/ runs the job in-process or as a
subprocess, external/ starts an outside system (the gs:// emulator, a worker
pool's virtualenv, the image's launcher run, the worked example; marked
`external`). The session runs cheapest group first, and ends with a summary
of where the time went: the shared runs below, then unit, jobs and external.
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


# --- the groups, and where the time went -------------------------------------
# A plugin, not conftest hooks: session fixtures are set up by the session node,
# which this directory's conftest hooks do not see. Each report carries what the
# summary needs in its user_properties.

TESTS = pathlib.Path(__file__).resolve().parent
GROUPS = ("unit", "jobs", "external")  # folders under tests/, cheapest first


def group_of(path) -> str:
    """The folder under tests/ that a test file is in, if it is one of GROUPS."""
    try:
        folder = pathlib.Path(path).resolve().relative_to(TESTS).parts[0]
    except ValueError:
        return "other"
    return folder if folder in GROUPS else "other"


def pytest_configure(config):
    config.pluginmanager.register(TimeByGroup(), "featurecross-time-by-group")


def pytest_collection_modifyitems(items):
    """Cheapest group first (collected by name, external/ would come first), so a
    unit failure shows before the jobs run; the order within a group is kept."""
    rank = {group: index for index, group in enumerate(GROUPS)}
    items.sort(key=lambda item: rank.get(group_of(item.path), len(GROUPS)))


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
        report.user_properties.append(("group", group_of(item.path)))
        external = item.get_closest_marker("external")
        if external:
            report.user_properties.append(("external", external.args[0]))

    def pytest_terminal_summary(self, terminalreporter):
        """Seconds of setup + call + teardown by group; a shared run counts apart from
        the test that first needed it."""
        groups: collections.Counter = collections.Counter()
        tests: dict[str, set] = collections.defaultdict(set)
        files: dict[str, set] = collections.defaultdict(set)
        systems: collections.Counter = collections.Counter()  # external seconds by system
        shared: collections.Counter = collections.Counter()
        misplaced: set[str] = set()  # unit tests that set up a shared run
        for reports in terminalreporter.stats.values():
            for report in reports:
                if getattr(report, "when", None) not in ("setup", "call", "teardown"):
                    continue
                properties = report.user_properties
                group = next((v for k, v in properties if k == "group"), "other")
                system = next((v for k, v in properties if k == "external"), None)
                seconds = report.duration
                for key, value in properties:
                    if key == "shared_run":
                        shared[value[0]] += value[1]
                        seconds -= value[1]
                        if group == "unit":
                            misplaced.add(f"{report.nodeid} ({value[0]})")
                groups[group] += seconds
                tests[group].add(report.nodeid)
                files[group].add(report.nodeid.split("::")[0])
                if group == "external":
                    systems[system or "not marked external"] += seconds
        if not groups:
            return
        write = terminalreporter.write_line
        terminalreporter.section("time by group (seconds; setup + call + teardown)")
        runs = [f"{name} {seconds:.1f}" for name, seconds in shared.most_common()
                if seconds >= 0.05]
        write(f"{sum(shared.values()):7.1f}  shared session runs (conftest.py): "
              + ", ".join(runs))
        for group in [*GROUPS, "other"]:
            if group not in groups:
                continue
            where = "elsewhere" if group == "other" else f"tests/{group}/"
            line = (f"{groups[group]:7.1f}  {group}: {len(tests[group])} tests in "
                    f"{len(files[group])} files ({where})")
            if group == "external":
                line += ": " + ", ".join(f"{system} {seconds:.1f}"
                                         for system, seconds in systems.most_common())
            write(line)
        if misplaced:
            write("unit tests that set up a shared run (they belong in tests/jobs/): "
                  + ", ".join(sorted(misplaced)), yellow=True)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> pathlib.Path:
    """The first rows of the flights sample (tests/jobs/runs.py): for runs held, killed
    or refused on purpose, where a small input keeps each run short."""
    from tests.jobs.runs import small_input
    return small_input(tmp_path_factory.mktemp("small_input"))

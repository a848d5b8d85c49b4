"""Session fixtures: each expensive CLI run happens once and is shared.

The flights runs use configs/flights.yaml on the shipped sample; the edge
runs use tests/edge_data.py's edge-value set and config. Tests must not
change these outputs: copy one first (see test_verify.py) to tamper with it.
"""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys

import pytest

from pipeline.cli import quiet_libraries
from tests import edge_data
from tests.support import FLIGHTS_CONFIG, REPO, SAMPLE_TFRECORD, run_cli

quiet_libraries()


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
                           "--output", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return Job(out, done)


@pytest.fixture(scope="session")
def flights_parquet_run(flights_parquet_job) -> pathlib.Path:
    return flights_parquet_job.out


@pytest.fixture(scope="session")
def flights_tfrecord_run(tmp_path_factory) -> pathlib.Path:
    """configs/flights.yaml on the TFRecord sample, TFRecord out."""
    out = tmp_path_factory.mktemp("runs") / "tfrecord"
    config = _config_with_output_format(tmp_path_factory, "tfrecord", input_format="tfrecord")
    assert run_cli("run", "--config", config, "--input", SAMPLE_TFRECORD, "--output", out) == 0
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

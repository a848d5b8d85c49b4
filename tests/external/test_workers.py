"""The job on workers that carry only the wheel.

Dataflow Runner v2 runs the pipeline's code in SDK worker processes that
have the installed package and nothing of the driver. The stand-in here: a
Beam worker pool (`worker_pool_main`) started from a fresh virtualenv that
holds only the project's built wheel and its pinned dependencies
(tests/worker_pool.py), driven with `--runner PortableRunner --job_endpoint
embed --environment_type EXTERNAL`. Its `data/` files must be byte-identical
to the DirectRunner run's (docs/outputs.md "Reproducible reruns"); the parsed content
is compared too, so a failure says whether rows or only bytes differ. The
multi_processing DirectRunner's bytes are test_reproducible.py's.
"""

from __future__ import annotations

import pytest

from pipeline.io.publish import SUCCESS
from tests.support import (
    NO_PARITY_SAMPLE,
    SAMPLE_TFRECORD,
    data_digests,
    read_manifest,
    run_cli,
    tfrecord_content,
)
from tests.worker_pool import WorkerPool, build_wheel, worker_venv

pytestmark = pytest.mark.external("worker pool from a wheel-only virtualenv")


@pytest.fixture(scope="module")
def wheel_only_workers(tmp_path_factory):
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    python, seconds = worker_venv(wheel)
    print(f"\nworker virtualenv ready in {seconds:.0f} s")
    pool = WorkerPool(python)
    pool.start()
    yield pool
    pool.stop()


def rerun(direct_run, out, *runner_args: str) -> None:
    """The DirectRunner run's config and input again, on another runner; its data is
    compared below, so the run skips its parity sample."""
    config = read_manifest(direct_run)["config_path"]
    assert run_cli("run", "--config", config, "--input", SAMPLE_TFRECORD, "--output", out,
                   *NO_PARITY_SAMPLE, *runner_args) == 0
    assert (out / SUCCESS).is_file()


def test_wheel_only_workers_write_the_direct_runners_content(wheel_only_workers,
                                                            flights_tfrecord_run, tmp_path):
    out = tmp_path / "out"
    before = wheel_only_workers.workers_started()
    rerun(flights_tfrecord_run, out, "--runner", "PortableRunner", "--job_endpoint", "embed",
          "--environment_type", "EXTERNAL",
          "--environment_config", f"localhost:{wheel_only_workers.port}")
    assert tfrecord_content(out) == tfrecord_content(flights_tfrecord_run)
    assert data_digests(out) == data_digests(flights_tfrecord_run)
    # The work ran in the pool's workers: their cwd is empty and they have no
    # PYTHONPATH, so `pipeline` came from the wheel installed in their venv.
    assert wheel_only_workers.workers_started() > before


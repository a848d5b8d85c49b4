"""Reruns are reproducible (docs/outputs.md "Reproducible reruns").

The same input and config give byte-identical `data/` files on a rerun, on
the multi-threaded DirectRunner and on the multi_processing DirectRunner,
whose workers are other processes (other protobuf map seeds, other bundle
timing). The input is four reads (two Parquet files of two row groups each),
so part files really come from different workers. tests/test_workers.py
checks the same for workers that carry only the wheel (PortableRunner).
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, data_digests, run_cli

RUNNERS = {
    "in_memory": [],
    "multi_threading": ["--direct_running_mode", "multi_threading", "--direct_num_workers", "2"],
    "multi_processing": ["--direct_running_mode", "multi_processing",
                         "--direct_num_workers", "2"],
}
TIMING_FIELDS = ("seconds", "timings")


@pytest.fixture(scope="module")
def split_input(tmp_path_factory):
    """8,000 sample rows as two Parquet files with row groups of 2,500 rows: four reads."""
    root = tmp_path_factory.mktemp("reproducible_input")
    table = pq.read_table(SAMPLE_PARQUET).slice(0, 8000)
    pq.write_table(table.slice(0, 5000), root / "a.parquet", row_group_size=2500)
    pq.write_table(table.slice(5000), root / "b.parquet", row_group_size=2500)
    return root / "*.parquet"


def _config(split_input, output_format: str):
    """One config file per format, so the manifests name the same config path."""
    path = split_input.parent / f"flights_{output_format}.yaml"
    path.write_text(FLIGHTS_CONFIG.read_text().replace("  format: tfrecord\n",
                                                       f"  format: {output_format}\n"))
    return path


def _run(tmp_path_factory, split_input, output_format: str, runner: str):
    out = tmp_path_factory.mktemp(f"reproducible_{output_format}_{runner}") / "out"
    assert run_cli("run", "--config", _config(split_input, output_format),
                   "--input", split_input, "--output", out, "--verify-rows", "0",
                   *RUNNERS[runner]) == 0
    return out


def _stable_manifest(out) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return {key: value for key, value in manifest.items() if key not in TIMING_FIELDS}


@pytest.mark.parametrize("output_format,runners", [
    ("tfrecord", ("in_memory", "in_memory", "multi_processing")),
    ("parquet", ("in_memory", "multi_threading")),
])
def test_data_files_are_byte_identical_across_reruns_and_runners(
        tmp_path_factory, split_input, output_format, runners):
    outs = [_run(tmp_path_factory, split_input, output_format, runner) for runner in runners]
    first = data_digests(outs[0])
    suffix = ".tfrecord.gz" if output_format == "tfrecord" else ".parquet"
    assert list(first) == [f"part-0000{i}-of-00004{suffix}" for i in range(4)]
    for runner, out in zip(runners[1:], outs[1:]):
        assert data_digests(out) == first, f"{runner} wrote other bytes"
    stable = _stable_manifest(outs[0])
    assert stable["parity_sample"] == {"rows_requested": 0, "status": "off"}
    for out in outs[1:]:
        assert _stable_manifest(out) == stable

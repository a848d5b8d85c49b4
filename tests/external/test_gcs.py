"""gs:// for real, offline: runs, reads back, verify and transform-only on a GCS emulator.

The emulator (tests/gcs_emulator.py) is the only thing standing in for
Google Cloud: Beam's GCS client, TensorFlow's gs:// filesystem and
tf.Transform all do their own I/O against it. The input is a slice of the
shipped sample; every gs:// output is compared with the same job run on the
local disk, by parsed content. Publishing follows docs/outputs.md "Output": written
in place, _SUCCESS last, nothing left behind by a failed run.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import load_config
from pipeline.io.publish import SUCCESS
from pipeline.transform.raw_specs import raw_feature_spec
from tests.support import (
    FLIGHTS_CONFIG,
    NO_PARITY_SAMPLE,
    SAMPLE_PARQUET,
    SAMPLE_TFRECORD,
    run_cli,
    tfrecord_content,
)

pytestmark = pytest.mark.external("gs:// emulator")

ROWS = 1000


@pytest.fixture(scope="module")
def gcs_input(gcs, tmp_path_factory) -> tuple[str, str]:
    """(gs:// pattern, local pattern) of the same two Parquet files."""
    local = tmp_path_factory.mktemp("gcs_input")
    table = pq.read_table(SAMPLE_PARQUET).slice(0, ROWS)
    for part, start in enumerate((0, ROWS // 2)):
        path = local / f"part-{part}.parquet"
        pq.write_table(table.slice(start, ROWS // 2), path)
        tf.io.gfile.copy(str(path), f"{gcs.bucket}/input/part-{part}.parquet")
    return f"{gcs.bucket}/input/part-*.parquet", str(local / "part-*.parquet")


@pytest.fixture(scope="module")
def local_run(gcs_input, tmp_path_factory):
    out = tmp_path_factory.mktemp("gcs_local") / "out"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", gcs_input[1],
                   "--output", out, *NO_PARITY_SAMPLE) == 0
    return out


@pytest.fixture(scope="module")
def gcs_run(gcs, gcs_input) -> str:
    """The analysis run on gs://, with its parity sample (serving/ read from gs://)."""
    out = f"{gcs.bucket}/runs/analysis"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", gcs_input[0],
                   "--output", out) == 0
    return out


def listing(directory: str) -> list[str]:
    if not tf.io.gfile.exists(directory):
        return []
    return sorted(tf.io.gfile.listdir(directory))


def test_a_gcs_run_publishes_in_place_and_equals_the_local_run(gcs_run, local_run):
    assert listing(gcs_run) == sorted(
        [SUCCESS, "data/", "manifest.json", "metadata/", "report/", "serving/",
         "transform_fn/", "transformed_metadata/"])
    assert not tf.io.gfile.glob(f"{gcs_run}.tmp-*")
    assert tfrecord_content(gcs_run) == tfrecord_content(local_run)
    assert sum(tfrecord_content(gcs_run).values()) == ROWS


def test_tf_transform_output_reads_the_graph_back_from_gcs(gcs_run, local_run):
    remote, here = tft.TFTransformOutput(gcs_run), tft.TFTransformOutput(str(local_run))
    assert remote.transformed_feature_spec() == here.transformed_feature_spec()
    records = list(tf.data.TFRecordDataset(str(SAMPLE_TFRECORD), compression_type="GZIP")
                   .take(50).as_numpy_iterator())
    spec = raw_feature_spec(load_config(str(FLIGHTS_CONFIG)), with_defaults=True)
    raw = tf.io.parse_example(tf.constant(records), spec)
    from_gcs = remote.transform_features_layer()(dict(raw))
    from_disk = here.transform_features_layer()(dict(raw))
    assert sorted(from_gcs) == sorted(from_disk)
    for name, tensor in from_disk.items():
        if isinstance(tensor, tf.SparseTensor):
            tensor, other = tensor.values, from_gcs[name].values
        else:
            other = from_gcs[name]
        assert tf.reduce_all(tensor == other), name


def test_verify_serves_rows_from_a_gcs_output(gcs_run, gcs_input, capsys):
    assert run_cli("verify", gcs_run, "--input", gcs_input[0], "--rows", 200) == 0
    assert "OK: serving/ reproduces the batch output" in capsys.readouterr().out


@pytest.fixture(scope="module")
def gcs_transform_only(gcs, gcs_input, gcs_run) -> str:
    out = f"{gcs.bucket}/runs/daily/dt=2026-11-20"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", gcs_input[0],
                   "--output", out, "--transform-fn", gcs_run, *NO_PARITY_SAMPLE) == 0
    return out


def test_transform_only_from_a_frozen_gcs_graph_reproduces_its_data(gcs_transform_only,
                                                                    gcs_run):
    assert SUCCESS in listing(gcs_transform_only)
    assert tfrecord_content(gcs_transform_only) == tfrecord_content(gcs_run)


def test_overwrite_on_gcs_replaces_the_whole_output(gcs, gcs_input, gcs_run,
                                                    gcs_transform_only, capsys):
    out = gcs_transform_only
    with tf.io.gfile.GFile(f"{out}/stale.txt", "w") as handle:
        handle.write("from an earlier run")
    args = ["run", "--config", FLIGHTS_CONFIG, "--input", gcs_input[0], "--output", out,
            "--transform-fn", gcs_run, *NO_PARITY_SAMPLE]
    assert run_cli(*args) == 1
    assert f"the output directory {out} is not empty" in capsys.readouterr().err
    assert "stale.txt" in listing(out)
    assert run_cli(*args, "--overwrite") == 0
    assert "stale.txt" not in listing(out) and SUCCESS in listing(out)
    assert tfrecord_content(out) == tfrecord_content(gcs_run)


def test_a_gcs_run_failing_on_a_bad_row_leaves_no_success_and_no_files(gcs, gcs_run,
                                                                       tmp_path, capsys):
    table = pq.read_table(SAMPLE_PARQUET).slice(0, 50)
    carrier = table["carrier"].to_pylist()
    carrier[7] = None  # carrier has no default: invalid
    table = table.set_column(table.schema.get_field_index("carrier"), "carrier",
                             pa.array(carrier))
    pq.write_table(table, tmp_path / "bad.parquet")
    bad = f"{gcs.bucket}/bad/bad.parquet"
    tf.io.gfile.copy(str(tmp_path / "bad.parquet"), bad, overwrite=True)
    out = f"{gcs.bucket}/runs/failed"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", bad, "--output", out,
                   "--transform-fn", gcs_run, *NO_PARITY_SAMPLE) == 1
    assert f"{bad}: row 7: column 'carrier'" in capsys.readouterr().err
    assert listing(out) == []

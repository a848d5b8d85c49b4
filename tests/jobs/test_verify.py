"""`featurecross verify OUT --input P`: passes on good outputs, names a tampered feature.

A good output: the edge-value set as Parquet (unicode, nulls and sequences
through verify's own tf.Example encoding). Tampered outputs: a copy of the
flights sample's Parquet or TFRecord run with one feature rewritten in a few
rows of OUT/data; every other feature must be found clean, so these also
cover a clean TFRecord input.
"""

from __future__ import annotations

import re
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from pipeline.config import load_config
from tests.support import SAMPLE_PARQUET, SAMPLE_TFRECORD, run_cli

ROWS = 400      # raw rows verify serves
TAMPERED = 5    # the first rows of the first data file


def verify(out, data, capsys) -> tuple[int, str]:
    code = run_cli("verify", out, "--input", data, "--rows", ROWS)
    return code, capsys.readouterr().out


def mismatch_counts(report: str) -> dict[str, int]:
    return {name: int(count) for name, count in
            re.findall(r"^  (\S+): (\d+) mismatching rows$", report, re.MULTILINE)}


def test_verify_passes_on_a_good_output(edge_parquet_run, capsys):
    code, report = verify(edge_parquet_run.out, edge_parquet_run.data.parquet, capsys)
    assert code == 0, report
    assert "OK: serving/ reproduces the batch output" in report
    counts = mismatch_counts(report)
    config = load_config(str(edge_parquet_run.config))
    assert sorted(counts) == sorted([*config.keep, *(f.name for f in config.features)])
    assert set(counts.values()) == {0}


def tamper_parquet(out, feature: str) -> None:
    """Adds 1 to the feature (an int column) in the first rows of the first file."""
    path = sorted((out / "data").glob("part-*.parquet"))[0]
    table = pq.read_table(path)
    column = table[feature].combine_chunks()
    head = pc.add(column.slice(0, TAMPERED), 1)
    changed = pa.concat_arrays([head, column.slice(TAMPERED)])
    table = table.set_column(table.schema.get_field_index(feature), feature, changed)
    pq.write_table(table, path)


def tamper_tfrecord(out, feature: str) -> None:
    """Adds 1.0 to the feature (a float) in the first records of the first file."""
    path = str(sorted((out / "data").glob("part-*.tfrecord.gz"))[0])
    records = list(tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator())
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for index, record in enumerate(records):
            if index < TAMPERED:
                example = tf.train.Example.FromString(record)
                values = example.features.feature[feature].float_list.value
                values[0] += 1.0
                record = example.SerializeToString()
            writer.write(record)


@pytest.mark.parametrize("output_format, feature", [("parquet", "route"),
                                                    ("tfrecord", "delay_x_distance")])
def test_verify_fails_and_names_a_tampered_feature(output_format, feature, flights_parquet_run,
                                                   flights_tfrecord_run, tmp_path, capsys):
    good = flights_parquet_run if output_format == "parquet" else flights_tfrecord_run
    out = tmp_path / "out"
    shutil.copytree(good, out)
    (tamper_parquet if output_format == "parquet" else tamper_tfrecord)(out, feature)
    data = SAMPLE_PARQUET if output_format == "parquet" else SAMPLE_TFRECORD
    code, report = verify(out, data, capsys)
    assert code == 1, report
    assert f"FAILED: {TAMPERED} served rows have no identical batch row" in report
    counts = mismatch_counts(report)
    assert counts.pop(feature) == TAMPERED
    assert set(counts.values()) == {0}

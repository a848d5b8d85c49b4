"""The Beam steps one at a time, on Beam's TestPipeline with assert_that.

Inputs are small hand-built batches; expectations come from the inputs
themselves, NumPy, or (for the transform step) the batch output of the
session's flights run, which the same graph produced.
"""

from __future__ import annotations

import json

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import load_config, parse_config
from pipeline.diagnostics.stats import STATS_FILE, WriteFeatureStats
from pipeline.io.rows import InvalidInputError, Position, RawBatch, RowChecker
from pipeline.io.sources import ReadRawBatches, read_parquet
from pipeline.job.steps import (
    COUNTER_NAMESPACE,
    INVALID_TAG,
    CheckRows,
    TransformBatches,
    WriteInvalidRows,
    WriteTransformed,
    to_parquet_table,
)
from pipeline.transform.output_specs import output_feature_spec, parquet_schema
from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET

CONFIG = parse_config({
    "input": {"format": "parquet"},
    "schema": {"name": {"type": "string", "default": "none"}, "code": {"type": "int"}},
    "features": [{"name": "f", "hash": "name", "num_bins": 10}],
}, path="steps.yaml")


def raw_batch(file: str, first_row: int, codes: list) -> RawBatch:
    names = [f"{file}-{first_row + i}" for i in range(len(codes))]
    return RawBatch(file, first_row, pa.RecordBatch.from_pydict(
        {"name": pa.array(names), "code": pa.array(codes, pa.int64())}))


BATCHES = [raw_batch("a", 0, [1, None, 3]), raw_batch("a", 3, [4]), raw_batch("b", 0, [None])]


def counters(result) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))
    return {c.key.metric.name: c.committed for c in query["counters"]}


def test_check_rows_splits_clean_rows_from_quarantined_ones_and_counts_them():
    pipeline = BeamPipeline()
    checked = (pipeline | beam.Create(BATCHES)
               | beam.ParDo(CheckRows(CONFIG, quarantine=True, report=True))
               .with_outputs(INVALID_TAG, main="valid"))
    codes = checked.valid | beam.FlatMap(lambda keyed: [row["code"][0]
                                                        for row in keyed[1].to_pylist()])
    positions = checked.valid | beam.Map(lambda keyed: tuple(keyed[0]))
    located = checked[INVALID_TAG] | beam.Map(
        lambda line: (json.loads(line)["file"], json.loads(line)["row"],
                      json.loads(line)["column"]))
    assert_that(codes, equal_to([1, 3, 4]), label="valid")
    # each clean batch carries its input position (file, read, first row): part files use it
    assert_that(positions, equal_to([("a", 0, 0), ("a", 0, 3)]), label="positions")
    assert_that(located, equal_to([("a", 1, "code"), ("b", 0, "code")]), label="invalid")
    result = pipeline.run()
    result.wait_until_finish()
    assert counters(result) == {"rows_read": 5, "rows_quarantined": 2}


def test_check_rows_without_report_skips_bad_rows_silently():
    """The analysis pass: bad rows are left out, neither counted nor emitted."""
    pipeline = BeamPipeline()
    checked = (pipeline | beam.Create(BATCHES)
               | beam.ParDo(CheckRows(CONFIG, quarantine=True, report=False))
               .with_outputs(INVALID_TAG, main="valid"))
    assert_that(checked.valid | beam.Map(lambda b: b.num_rows), equal_to([2, 1]), label="rows")
    assert_that(checked[INVALID_TAG], equal_to([]), label="invalid")
    result = pipeline.run()
    result.wait_until_finish()
    assert counters(result) == {}


def test_check_rows_in_fail_mode_stops_at_a_bad_row_naming_it():
    with pytest.raises(InvalidInputError, match=r"^a: row 1: column 'code': is null"):
        with BeamPipeline() as pipeline:
            _ = (pipeline | beam.Create(BATCHES[:1])
                 | beam.ParDo(CheckRows(CONFIG, quarantine=False, report=True)))


def test_read_raw_batches_reads_every_matched_file_with_row_positions(tmp_path):
    for name, rows in (("one", 5), ("two", 12)):
        table = pa.table({"name": [f"{name}{i}" for i in range(rows)], "code": range(rows)})
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=5)
    config = CONFIG.with_overrides(input_pattern=str(tmp_path / "*.parquet"))
    with BeamPipeline() as pipeline:
        batches = pipeline | ReadRawBatches(config, batch_rows=4)
        rows = batches | beam.FlatMap(lambda raw: [
            (raw.file.rsplit("/", 1)[-1], raw.first_row + i, row["name"])
            for i, row in enumerate(raw.batch.to_pylist())])
        assert_that(rows, equal_to(
            [("one.parquet", i, f"one{i}") for i in range(5)]
            + [("two.parquet", i, f"two{i}") for i in range(12)]))


def output_batch(codes: list[int], values: list[float]) -> pa.RecordBatch:
    """An output batch in list layout: an int feature and a 2-wide float feature."""
    return pa.RecordBatch.from_pydict({
        "code": pa.array([[c] for c in codes], pa.large_list(pa.int64())),
        "pair": pa.array([[v, -v] for v in values], pa.large_list(pa.float32()))})


def test_feature_stats_merge_batches_into_the_whole_columns(tmp_path):
    batches = [output_batch([3, -7], [0.5, 2.0]), output_batch([10], [1.25])]
    with BeamPipeline() as pipeline:
        _ = pipeline | beam.Create(batches) | WriteFeatureStats(str(tmp_path))
    stats = json.loads((tmp_path / STATS_FILE).read_text())
    pair = np.array([0.5, -0.5, 2.0, -2.0, 1.25, -1.25])
    assert stats["code"] == {"rows": 3, "empty_rows": 0, "values": 3, "min": -7, "max": 10,
                             "mean": pytest.approx(2.0)}
    assert stats["pair"] == {"rows": 3, "empty_rows": 0, "values": 6, "min": pair.min(),
                             "max": pair.max(), "mean": pytest.approx(pair.mean())}


def test_write_transformed_writes_parquet_in_the_documented_layout(tmp_path):
    config = parse_config({
        "input": {"format": "parquet"},
        "schema": {"name": {"type": "string"}},
        "features": [{"name": "code", "hash": "name", "num_bins": 10},
                     {"name": "pair", "hash": "name", "num_bins": 2, "output": "one_hot"}],
        "output": {"format": "parquet"},
    }, path="write.yaml")
    batch = output_batch([1, 2, 3], [0.0, 1.0, 1.0])
    with BeamPipeline() as pipeline:
        _ = (pipeline | beam.Create([(Position("in.parquet", 0, 0), batch)])
             | WriteTransformed(config, str(tmp_path / "data")))
    (part,) = (tmp_path / "data").glob("part-*.parquet")
    written = pq.read_table(part)
    assert written.schema == parquet_schema(output_feature_spec(config))
    assert written.to_pydict() == {"code": [1, 2, 3], "pair": [[0.0, -0.0], [1.0, -1.0],
                                                                [1.0, -1.0]]}


def test_write_invalid_rows_writes_json_lines(tmp_path):
    lines = [json.dumps({"row": i}) for i in range(3)]
    with BeamPipeline() as pipeline:
        _ = pipeline | beam.Create(lines) | WriteInvalidRows(str(tmp_path / "invalid"))
    written = [line for path in (tmp_path / "invalid").glob("part-*.jsonl")
               for line in path.read_text().splitlines()]
    assert sorted(written) == sorted(lines)


def test_transform_batches_applies_the_runs_graph(flights_parquet_run):
    """The first sample rows through the step give the run's first output rows."""
    config = load_config(str(FLIGHTS_CONFIG))
    checker = RowChecker(config)
    first = next(read_parquet(str(SAMPLE_PARQUET), list(config.schema), batch_rows=50))
    clean, invalid = checker.check(first)
    assert invalid == [] and clean.num_rows == 50
    schema = parquet_schema(output_feature_spec(config))
    (part,) = (flights_parquet_run / "data").glob("part-*.parquet")
    expected = pq.read_table(part).slice(0, 50).to_pydict()
    with BeamPipeline() as pipeline:
        transformed = (pipeline | beam.Create([(first.position, clean)])
                       | beam.ParDo(TransformBatches(config, str(flights_parquet_run)))
                       | beam.MapTuple(lambda position, batch:
                                       (tuple(position),
                                        to_parquet_table(batch, schema).to_pydict())))
        assert_that(transformed, equal_to([(tuple(first.position), expected)]))

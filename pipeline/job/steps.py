"""The Beam steps of the batch job, each a small DoFn or PTransform."""

from __future__ import annotations

import functools
import os
from typing import Iterator

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from pipeline.config import Config
from pipeline.diagnostics.auto_bins import resolved_num_bins
from pipeline.diagnostics.collision_counts import COLLISIONS_TAG
from pipeline.diagnostics.drift_counts import DRIFT_TAG, BatchDriftCounts
from pipeline.diagnostics.fingerprints import BatchColumns, BatchCombinations
from pipeline.io.batch_coder import RecordBatchCoder  # noqa: F401 - registers the coder
from pipeline.io.part_files import PartFileFormat, WritePartFiles
from pipeline.io.rows import InvalidInputError, RawBatch, RowChecker
from pipeline.job import read_tally
from pipeline.transform.output_specs import output_feature_spec, parquet_schema

COUNTER_NAMESPACE = "featurecross"
INVALID_TAG = "invalid"
# (input position, batch): the output type of the steps that pass batches on, so
# Beam measures them with `RecordBatchCoder` instead of pickling them.
POSITIONED_BATCH = beam.typehints.Tuple[beam.typehints.Any, pa.RecordBatch]


class CheckRows(beam.DoFn):
    """RawBatch in; clean record batch out, invalid rows to a tagged output.

    With `quarantine=False` the first invalid row stops the job with an error
    naming its file, row and column. Only the pass that writes outputs
    (`report=True`) counts rows, emits the invalid ones and keys each clean
    batch by its input position (part files are cut by it); the analysis
    pass over the same files just skips invalid rows.
    """

    def __init__(self, config: Config, *, quarantine: bool, report: bool) -> None:
        self.config = config
        self.quarantine = quarantine
        self.report = report
        self.rows_read = Metrics.counter(COUNTER_NAMESPACE, "rows_read")
        self.rows_invalid = Metrics.counter(COUNTER_NAMESPACE, "rows_quarantined")
        self.rows_with_nan = Metrics.counter(COUNTER_NAMESPACE, "rows_with_nan")

    def setup(self) -> None:
        self.checker = RowChecker(self.config)

    def process(self, raw: RawBatch) -> Iterator:
        clean, invalid, nan_rows = self.checker.check_counting_nan(raw)
        read_tally.add("transform" if self.report else "analysis", raw.batch.num_rows)
        if invalid and not self.quarantine:
            raise InvalidInputError(invalid[0].message())
        if self.report:
            self.rows_read.inc(raw.batch.num_rows)
            self.rows_invalid.inc(len(invalid))
            if nan_rows:
                self.rows_with_nan.inc(nan_rows)
            for row in invalid:
                yield beam.pvalue.TaggedOutput(INVALID_TAG, row.to_json())
        if clean.num_rows:
            yield (raw.position, clean) if self.report else clean


class TransformBatches(beam.DoFn):
    """Applies the exported transform graph to clean batches (Arrow in, Arrow out).

    Elements are (input position, batch) pairs; the position is passed on.

    The graph is loaded once per worker, on the first batch: its directory is
    only complete once analysis has published it (the `ready` side input).

    Only this step sees raw and transformed values side by side, so it also
    counts, per batch, on one shared encoding of the columns
    (`combinations.BatchColumns`): with `count_combinations`, each hashed
    feature's distinct combinations (`combinations.BatchCombinations`) go to
    the COLLISIONS_TAG output, for the collision report and drift; with
    `count_drift`, the drift counts (`drift_counts.BatchDriftCounts`) go to
    the DRIFT_TAG output.
    """

    def __init__(self, config: Config, transform_output_dir: str, *,
                 count_combinations: bool = False, count_drift: bool = False) -> None:
        self.config = config
        self.transform_output_dir = transform_output_dir
        self.count_combinations = count_combinations
        self.count_drift = count_drift
        self.transformer = None
        self.combinations = None
        self.drift = None

    def process(self, element: tuple, ready=None) -> Iterator:
        if self.transformer is None:
            from pipeline.transform.batch_transformer import BatchTransformer
            self.transformer = BatchTransformer(self.config, self.transform_output_dir)
            if self.count_combinations:
                self.combinations = BatchCombinations(self.config, resolved_num_bins(
                    self.config, self.transform_output_dir))
            if self.count_drift:
                self.drift = BatchDriftCounts(self.config)
            self.fingerprint_memos = {}  # this worker's, across its batches
        position, batch = element
        transformed = self.transformer(batch)
        yield position, transformed
        columns = BatchColumns(batch, transformed, self.fingerprint_memos)
        if self.combinations is not None:
            yield beam.pvalue.TaggedOutput(COLLISIONS_TAG,
                                           self.combinations(columns))
        if self.drift is not None:
            yield beam.pvalue.TaggedOutput(DRIFT_TAG, self.drift(columns))


def to_parquet_table(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """List layout to the Parquet layout: one-value lists become plain columns, bytes
    become UTF-8 strings (a value that is not UTF-8 fails naming its column)."""
    arrays = []
    for i, field in enumerate(schema):
        array = (batch.column(i) if pa.types.is_large_list(field.type)
                 else batch.column(i).values)
        if array.type != field.type:
            try:
                array = array.cast(field.type)
            except pa.ArrowInvalid as error:
                raise InvalidInputError(
                    f"column {field.name!r} holds bytes that are not UTF-8 text, and Parquet "
                    f"output stores strings as UTF-8 ({error}); write output.format: "
                    "tfrecord instead") from error
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


class CountRows(beam.DoFn):
    """Counts the rows of (position, batch) pairs passing through."""

    def __init__(self, name: str) -> None:
        self.counter = Metrics.counter(COUNTER_NAMESPACE, name)

    def process(self, element: tuple) -> Iterator[tuple]:
        self.counter.inc(element[1].num_rows)
        yield element


class WriteTransformed(beam.PTransform):
    """Writes (position, batch) pairs to `data/part-SSSSS-of-NNNNN.{tfrecord.gz,parquet}`.

    Part files follow the input's reads, in input order (`pipeline.io.part_files`).
    """

    def __init__(self, config: Config, data_dir: str) -> None:
        super().__init__()
        self.config = config
        self.data_dir = data_dir

    def expand(self, batches):
        counted = batches | "CountWrittenRows" >> beam.ParDo(
            CountRows("rows_written")).with_output_types(POSITIONED_BATCH)
        if self.config.output_format == "parquet":
            schema = parquet_schema(output_feature_spec(self.config))
            return counted | "WriteParquet" >> WritePartFiles(
                self.data_dir, PartFileFormat(".parquet", schema),
                functools.partial(to_parquet_table, schema=schema))
        return counted | "WriteTFRecord" >> WritePartFiles(self.data_dir,
                                                           PartFileFormat(".tfrecord.gz"))


class WriteInvalidRows(beam.PTransform):
    """Quarantined rows as JSON lines: file, row, column, reason, values."""

    def __init__(self, invalid_dir: str) -> None:
        super().__init__()
        self.prefix = os.path.join(invalid_dir, "part")

    def expand(self, rows):
        return rows | "WriteJsonLines" >> beam.io.WriteToText(self.prefix,
                                                              file_name_suffix=".jsonl")

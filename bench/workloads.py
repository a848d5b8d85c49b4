"""Benchmark workloads, each run as its own child process by bench/run_bench.py.

    python bench/workloads.py import_only [--fast-exit]
    python bench/workloads.py baseline --config C --input P --output O --format parquet|tfrecord
    python bench/workloads.py floor --config C --input P --transform-dir D --output O \
        --format ...
    python bench/workloads.py pyarrow_io --config C --input P --output O
    python bench/workloads.py analyze --config C --input P --output O --impl featurecross|tft

Every workload writes a small JSON report (rows, phase timings) to
`--report FILE`; the parent measures wall time and peak RSS from outside.

- baseline: the plain tf.Transform pipeline a tft user would write:
  Beam `ReadFromParquetBatched` -> RowChecker normalization (TFXIO's
  `ParquetTFXIO` cannot read this flat, nullable Parquet: its record batches
  do not match its own TensorAdapter schema, "Expected same schema") ->
  `tft_beam.AnalyzeAndTransformDataset(make_preprocessing_fn(config),
  output_record_batches=True)` -> tf.Examples with tfx-bsl's
  `RecordBatchToExamples` + `WriteToTFRecord` (gzip), or Arrow tables +
  `WriteToParquetBatched`; and `WriteTransformFn`. DirectRunner.
- floor: no Beam. The exported transform_fn of an earlier featurecross run,
  applied in a Python loop over pyarrow `iter_batches` with a minimal
  normalization (fill defaults, cast, wrap as TFXIO list layout), TensorAdapter,
  `transform_features_layer()`, NumPy -> Arrow, pyarrow ParquetWriter (or
  tfx-bsl's C++ example encoder + tf.io.TFRecordWriter, gzip level 1).
- pyarrow_io: read the config's columns with pyarrow and write them back out.
- analyze: the analysis pass alone, writing transform_fn/. `--impl featurecross`
  is the job's own (`AnalyzeAndWriteTransformFn`: row-group reads, RowChecker,
  `tft_beam.AnalyzeDataset`); `--impl tft` is what a tft user would write:
  `ReadFromParquetBatched` -> RowChecker -> `AnalyzeDataset` -> `WriteTransformFn`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

_STARTED = time.perf_counter()
BATCH_ROWS = 16_384  # pipeline.io.sources.DEFAULT_BATCH_ROWS


def _quiet() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging
    import warnings
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def _report(path: str | None, payload: dict) -> None:
    payload["process_seconds"] = time.perf_counter() - _STARTED
    if path:
        with open(path, "w") as handle:
            json.dump(payload, handle)


# ---------------------------------------------------------------- import only
def import_only(args) -> dict:
    _quiet()
    started = time.perf_counter()
    import apache_beam  # noqa: F401
    import tensorflow  # noqa: F401
    import tensorflow_transform  # noqa: F401
    return {"rows": 0, "phases": {"import": time.perf_counter() - started}}


# ------------------------------------------------------------------ pyarrow IO
def pyarrow_io(args) -> dict:
    import pyarrow.parquet as pq

    from pipeline.config import load_config
    config = load_config(args.config)
    started = time.perf_counter()
    source = pq.ParquetFile(args.input)
    columns = [c for c in config.schema if c in source.schema_arrow.names]
    rows = 0
    writer = None
    os.makedirs(args.output, exist_ok=True)
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        if writer is None:
            writer = pq.ParquetWriter(os.path.join(args.output, "part-00000.parquet"),
                                      batch.schema)
        writer.write_batch(batch)
        rows += batch.num_rows
    if writer is not None:
        writer.close()
    return {"rows": rows, "phases": {"read_write": time.perf_counter() - started}}


# ----------------------------------------------------------------------- floor
def _minimal_normalize(batch, config):
    """Fill defaults, cast, wrap each column as large_list (TFXIO layout)."""
    import numpy as np
    import pyarrow as pa

    from pipeline.transform.raw_specs import column_value_type, raw_arrow_schema
    rows = batch.num_rows
    offsets = pa.array(np.arange(rows + 1, dtype=np.int64))
    arrays = []
    for column in config.schema.values():
        target = column_value_type(column)
        values = batch.column(batch.schema.get_field_index(column.name))
        if column.has_default and values.null_count:
            default = column.default.encode() if isinstance(column.default, str) else column.default
            values = values.fill_null(pa.scalar(default, values.type))
        values = values.cast(target)
        arrays.append(pa.LargeListArray.from_arrays(offsets, values))
    return pa.RecordBatch.from_arrays(arrays, schema=raw_arrow_schema(config))


def _tensors_to_arrow(outputs, spec, rows, list_layout: bool):
    """Minimal NumPy -> Arrow: scalars as plain columns (Parquet) or lists (tf.Example)."""
    import numpy as np
    import pyarrow as pa
    import tensorflow as tf

    def lists(values, lengths):
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return pa.LargeListArray.from_arrays(pa.array(offsets), values)

    def flat(values):
        return pa.array(values, pa.large_binary()) if values.dtype == object else pa.array(values)

    names, arrays = [], []
    for name, feature in spec.items():
        tensor = outputs[name]
        if isinstance(feature, tf.io.FixedLenFeature):
            width = int(np.prod(feature.shape, dtype=np.int64))
            values = flat(tensor.numpy().reshape(-1))
            if feature.shape:
                array = (lists(values, np.full(rows, width, np.int64)) if list_layout
                         else pa.FixedSizeListArray.from_arrays(values, width))
            else:
                array = lists(values, np.ones(rows, np.int64)) if list_layout else values
            names.append(name)
            arrays.append(array)
            continue
        lengths = np.bincount(tensor.indices[:, 0].numpy(), minlength=rows)
        if isinstance(feature, tf.io.SparseFeature):
            names.append(feature.index_key[0])
            arrays.append(lists(pa.array(tensor.indices[:, 1].numpy()), lengths))
            names.append(feature.value_key)
        else:
            names.append(name)
        arrays.append(lists(flat(tensor.values.numpy()), lengths))
    return pa.RecordBatch.from_arrays(arrays, names=names)


class _PhaseClock:
    """Adds the time since the last tick to the named phase."""

    def __init__(self, names) -> None:
        self.phases = dict.fromkeys(names, 0.0)
        self.mark = time.perf_counter()

    def tick(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] += now - self.mark
        self.mark = now


def floor(args) -> dict:
    _quiet()
    clock = _PhaseClock(("import", "load_graph", "read", "normalize", "to_tensors",
                         "graph", "to_arrow", "encode", "write"))
    phases = clock.phases
    import pyarrow.parquet as pq
    import tensorflow as tf
    import tensorflow_transform as tft
    from tfx_bsl.public import tfxio

    from pipeline.config import load_config
    from pipeline.transform.raw_specs import tensor_adapter_config
    config = load_config(args.config)
    clock.tick("import")

    output = tft.TFTransformOutput(args.transform_dir)
    layer = output.transform_features_layer()
    spec = output.transformed_feature_spec()
    spec = {name: spec[name] for name in sorted(spec)}
    adapter = tfxio.TensorAdapter(tensor_adapter_config(config))
    clock.tick("load_graph")

    os.makedirs(args.output, exist_ok=True)
    source = pq.ParquetFile(args.input)
    writer = encoder = None
    if args.format == "tfrecord":
        from tfx_bsl.coders import example_coder
        encoder = example_coder.RecordBatchToExamplesEncoder()
        # gzip level 1, as featurecross's TFRecord sink (TF's default is 6)
        writer = tf.io.TFRecordWriter(
            os.path.join(args.output, "part-00000.tfrecord.gz"),
            options=tf.io.TFRecordOptions(compression_type="GZIP", compression_level=1))
    rows = 0
    batches = source.iter_batches(batch_size=BATCH_ROWS, columns=list(config.schema))
    while True:
        batch = next(batches, None)
        clock.tick("read")
        if batch is None:
            break
        clean = _minimal_normalize(batch, config)
        clock.tick("normalize")
        tensors = adapter.ToBatchTensors(clean, produce_eager_tensors=True)
        clock.tick("to_tensors")
        outputs = layer(tensors)
        clock.tick("graph")
        result = _tensors_to_arrow(outputs, spec, batch.num_rows,
                                   list_layout=encoder is not None)
        clock.tick("to_arrow")
        if encoder is not None:
            records = encoder.encode(result)
            clock.tick("encode")
            for record in records:
                writer.write(record)
        else:
            if writer is None:
                writer = pq.ParquetWriter(os.path.join(args.output, "part-00000.parquet"),
                                          result.schema)
            writer.write_batch(result)
        rows += batch.num_rows
        clock.tick("write")
    if writer is not None:
        writer.close()
    clock.tick("write")
    return {"rows": rows, "phases": phases}


# -------------------------------------------------------------------- baseline
def baseline(args) -> dict:
    _quiet()
    mark = time.perf_counter()
    import apache_beam as beam
    import pyarrow as pa
    import tensorflow_transform.beam as tft_beam
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import load_config
    from pipeline.io.rows import RawBatch, RowChecker
    from pipeline.transform.features import make_preprocessing_fn
    from pipeline.transform.raw_specs import tensor_adapter_config
    config = load_config(args.config)
    imported = time.perf_counter() - mark

    class Normalize(beam.DoFn):
        """pyarrow Table -> clean TFXIO-layout record batches (RowChecker)."""

        def __init__(self):
            self.rows = Metrics.counter("bench", "rows")

        def setup(self):
            self.checker = RowChecker(config)

        def process(self, table):
            for batch in table.to_batches(max_chunksize=BATCH_ROWS):
                clean, invalid = self.checker.check(RawBatch(args.input, 0, batch))
                if invalid:
                    raise ValueError(invalid[0].message())
                self.rows.inc(clean.num_rows)
                yield clean

    def encode_examples(batch_and_passthrough):
        from tfx_bsl.coders import example_coder
        batch, _ = batch_and_passthrough
        return example_coder.RecordBatchToExamples(batch)

    def to_table(batch_and_passthrough):
        batch, _ = batch_and_passthrough
        return pa.Table.from_batches([batch])

    os.makedirs(args.output, exist_ok=True)
    prefix = os.path.join(args.output, "data", "part")
    mark = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(args.beam_args))
    with tft_beam.Context(temp_dir=os.path.join(args.output, "tmp")):
        raw = (pipeline
               | "Read" >> beam.io.ReadFromParquetBatched(args.input, columns=list(config.schema))
               | "Normalize" >> beam.ParDo(Normalize()))
        (transformed, metadata), transform_fn = (
            (raw, tensor_adapter_config(config))
            | "AnalyzeAndTransform" >> tft_beam.AnalyzeAndTransformDataset(
                make_preprocessing_fn(config), output_record_batches=True))
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(args.output)
        if args.format == "tfrecord":
            _ = (transformed
                 | "EncodeExamples" >> beam.FlatMap(encode_examples)
                 | "WriteTFRecord" >> beam.io.WriteToTFRecord(
                     prefix, file_name_suffix=".tfrecord.gz",
                     compression_type=beam.io.filesystem.CompressionTypes.GZIP))
        else:
            from pipeline.transform.output_specs import list_layout_schema, output_feature_spec
            spec = output_feature_spec(config)
            schema = list_layout_schema({name: spec[name] for name in sorted(spec)})
            _ = (transformed
                 | "ToTables" >> beam.Map(to_table)
                 | "Reorder" >> beam.Map(lambda t: t.select(schema.names).cast(schema))
                 | "WriteParquet" >> beam.io.WriteToParquetBatched(
                     prefix, schema, file_name_suffix=".parquet"))
    result = pipeline.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_namespace("bench"))["counters"]
    rows = sum((c.committed if c.committed is not None else c.attempted) for c in counters)
    return {"rows": rows, "phases": {"import": imported,
                                     "pipeline": time.perf_counter() - mark}}


# -------------------------------------------------------------------- analysis
def analyze(args) -> dict:
    _quiet()
    mark = time.perf_counter()
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import load_config
    from pipeline.io.rows import RawBatch, RowChecker
    from pipeline.job.builder import AnalyzeAndWriteTransformFn
    from pipeline.transform.features import make_preprocessing_fn
    from pipeline.transform.raw_specs import tensor_adapter_config
    config = load_config(args.config)
    config = config.with_overrides(input_pattern=args.input)
    imported = time.perf_counter() - mark

    def normalize(table):
        checker = RowChecker(config)
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            clean, invalid = checker.check(RawBatch(args.input, 0, batch))
            if invalid:
                raise ValueError(invalid[0].message())
            yield clean

    os.makedirs(args.output, exist_ok=True)
    temp_dir = os.path.join(args.output, "tmp")
    mark = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(args.beam_args))
    if args.impl == "featurecross":
        _ = pipeline | "Analyze" >> AnalyzeAndWriteTransformFn(
            config, output_dir=args.output, temp_dir=temp_dir, quarantine=False)
    else:
        with tft_beam.Context(temp_dir=temp_dir):
            raw = (pipeline
                   | "Read" >> beam.io.ReadFromParquetBatched(args.input,
                                                              columns=list(config.schema))
                   | "Normalize" >> beam.FlatMap(normalize))
            transform_fn = ((raw, tensor_adapter_config(config))
                            | "AnalyzeDataset" >> tft_beam.AnalyzeDataset(
                                make_preprocessing_fn(config)))
            _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(args.output)
    pipeline.run().wait_until_finish()
    import pyarrow.parquet as pq
    return {"rows": pq.ParquetFile(args.input).metadata.num_rows,
            "phases": {"import": imported, "pipeline": time.perf_counter() - mark}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("import_only", "pyarrow_io", "floor", "baseline",
                                            "analyze"))
    parser.add_argument("--config")
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--transform-dir")
    parser.add_argument("--format", default="parquet", choices=("parquet", "tfrecord"))
    parser.add_argument("--impl", default="featurecross", choices=("featurecross", "tft"))
    parser.add_argument("--report")
    parser.add_argument("--fast-exit", action="store_true",
                        help="os._exit() after the report: skip interpreter teardown")
    args, beam_args = parser.parse_known_args()
    args.beam_args = beam_args
    payload = globals()[args.kind](args)
    _report(args.report, payload)
    if args.fast_exit:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

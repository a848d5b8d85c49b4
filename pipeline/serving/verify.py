"""`featurecross verify`: proves `serving/` reproduces the batch output.

Takes the first N raw rows of the input, sends them as tf.Examples (nulls
left out, so serving applies the defaults itself) through `OUT/serving/` in
a fresh Python process that imports neither this project nor Keras, and looks for each
served row in the batch output. Batch rows are matched by content, not by
position, because a distributed run does not keep input order. A served row
with no identical batch row is a mismatch; the closest batch row tells which
features differ.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tensorflow as tf
from apache_beam.io.filesystems import FileSystems
from tfx_bsl.coders import example_coder

from pipeline.config import Config
from pipeline.io.layout import DATA_DIR, SERVING_DIR, read_manifest, read_run_config
from pipeline.io.paths import check_not_directory
from pipeline.io.rows import RawBatch, RowChecker
from pipeline.io.sources import DEFAULT_BATCH_ROWS, TFRecordReader, read_parquet
from pipeline.transform.output_specs import output_feature_spec
from pipeline.transform.raw_specs import column_value_type, raw_schema_proto

# Runs in a fresh interpreter: only TensorFlow, the SavedModel and the examples.
# It imports TensorFlow first and then waits for its job on stdin, so a run can
# start it early and have it ready when serving/ is (docs/running.md "The parity sample").
# Keras is kept out: TensorFlow imports it eagerly (about 2.5 CPU s), a serving
# environment need not have it, and serving/ must load without it.
SERVE_SCRIPT = """
import sys
sys.modules.update(keras=None, tf_keras=None)
import numpy as np
import tensorflow as tf
serving_dir, examples_path, result_path = sys.stdin.readline().rstrip("\\n").split("\\t")
examples = [r.numpy() for r in tf.data.TFRecordDataset(examples_path)]
model = tf.saved_model.load(serving_dir)
outputs = model.signatures["serving_default"](examples=tf.constant(examples, tf.string))
assert not any(m.split(".")[0] in ("pipeline", "keras", "tf_keras") and sys.modules[m]
           for m in sys.modules)
np.savez(result_path, **{k: v.numpy() for k, v in outputs.items()})
"""


class ServingFailedError(RuntimeError):
    """serving/ refused the served rows (valid input rows): the message is TF's reason."""


@dataclasses.dataclass
class VerifyReport:
    output_dir: str
    rows_checked: int
    rows_skipped: int
    batch_rows: int
    mismatches: dict[str, int]
    unmatched_rows: int
    # The run's own input, when the rows served came from other files.
    run_input: str | None = None

    @property
    def ok(self) -> bool:
        return self.rows_checked > 0 and self.unmatched_rows == 0

    def text(self) -> str:
        lines = [f"verify {self.output_dir}: {self.rows_checked} input rows served, "
                 f"{self.rows_skipped} invalid rows skipped, {self.batch_rows} batch rows"]
        if self.run_input is not None and not self.ok and self.rows_checked:
            lines.append(f"NOT CHECKED: {self.unmatched_rows} served rows are not in the batch "
                         f"output, but this input is not the run's own (the run read "
                         f"{self.run_input}); rows of other data are not in its output, so "
                         "this says nothing about parity. Rerun without --input to check "
                         "the run's own rows")
            return "\n".join(lines)
        lines += [f"  {name}: {count} mismatching rows" for name, count in
                  self.mismatches.items()]
        if self.ok:
            lines.append("OK: serving/ reproduces the batch output for every checked row")
        elif self.rows_checked == 0:
            lines.append("FAILED: no valid input rows to check")
        else:
            lines.append(f"FAILED: {self.unmatched_rows} served rows have no identical "
                         "batch row")
        return "\n".join(lines)


def verify_output(output_dir: str, input_pattern: str | None = None, *,
                  rows: int = 1000) -> VerifyReport:
    """Checks `output_dir` on `input_pattern`, by default the run's own input (its
    manifest's `input_pattern`); other files are named as such, not as a parity failure."""
    config = read_run_config(output_dir)
    run_input = read_manifest(output_dir)["input_pattern"]
    pattern = input_pattern or run_input
    check_not_directory(pattern, config.input_format, "--input")
    report = verify_rows(output_dir, config, pattern, rows=rows)
    if _matched_files(pattern) != _matched_files(run_input):
        report = dataclasses.replace(report, run_input=run_input)
    return report


def _matched_files(pattern: str) -> list[str]:
    try:
        return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    except Exception:  # noqa: BLE001 a pattern that no longer matches anything
        return []


def verify_rows(output_dir: str, config: Config, input_pattern: str, *, rows: int,
                leading_batch_rows_only: bool = False,
                process: FreshServingProcess | None = None) -> VerifyReport:
    """Serves the first `rows` valid input rows and looks for them in the batch output.

    With `leading_batch_rows_only` only the first `rows` batch rows are
    searched: part files follow the input order (docs/outputs.md "Output"), so those
    are the served rows' batch rows, and the check costs the same on any
    output size. A run checks its own output this way before publishing it,
    with a `process` it started early.
    """
    spec = output_feature_spec(config)
    examples, skipped = _raw_examples(config, input_pattern, rows)
    if not examples:
        return VerifyReport(output_dir, 0, skipped, 0, dict.fromkeys(spec, 0), 0)
    serving_dir = os.path.join(output_dir, SERVING_DIR)
    served = (process.serve(serving_dir, examples) if process is not None
              else serve_in_fresh_process(serving_dir, examples))
    served_rows = _served_rows(served, spec, len(examples))
    limit = len(examples) if leading_batch_rows_only else None

    def batch_chunks():
        return _batch_chunks(output_dir, config, spec, limit=limit)

    mismatches, unmatched, batch_rows = _compare(served_rows, batch_chunks, list(spec))
    return VerifyReport(output_dir, len(examples), skipped, batch_rows, mismatches, unmatched)


def serve_in_fresh_process(serving_dir: str, examples: list[bytes]) -> dict[str, np.ndarray]:
    """Outputs of `serving_default` for `examples`, computed by a new interpreter."""
    with FreshServingProcess() as process:
        return process.serve(serving_dir, examples)


class FreshServingProcess:
    """A new Python interpreter that imports TensorFlow now and serves once, later."""

    def __init__(self) -> None:
        self.scratch = tempfile.mkdtemp(prefix="featurecross-serve-")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self.stderr_path = os.path.join(self.scratch, "stderr.txt")
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT],
                                            cwd=self.scratch, env=env, stdin=subprocess.PIPE,
                                            stdout=subprocess.DEVNULL, stderr=stderr, text=True)

    def serve(self, serving_dir: str, examples: list[bytes]) -> dict[str, np.ndarray]:
        examples_path = os.path.join(self.scratch, "examples.tfrecord")
        result_path = os.path.join(self.scratch, "served.npz")
        with tf.io.TFRecordWriter(examples_path) as writer:
            for example in examples:
                writer.write(example)
        if "://" not in serving_dir:
            serving_dir = os.path.abspath(serving_dir)
        self.process.communicate(f"{serving_dir}\t{examples_path}\t{result_path}\n")
        if self.process.returncode != 0:
            with open(self.stderr_path) as stderr:
                raise ServingFailedError(f"{serving_dir} failed to serve valid input rows: "
                                         f"{serving_error(stderr.read())}")
        with np.load(result_path, allow_pickle=True) as result:  # our own file: strings
            return {name: result[name] for name in result.files}

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "FreshServingProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# TensorFlow's lines around the reason: where the op was built, the node, the call.
_NOT_THE_REASON = re.compile(r"Detected at node|<stack traces unavailable>|\s*\[\[\{\{node|"
                             r"Graph execution error:|^\s*$")


def serving_error(stderr: str) -> str:
    """The reason in a failed serving process's stderr: the last exception's message,
    without TensorFlow's node and stack lines (the whole tail if none is found)."""
    lines = stderr.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines)
              if re.match(r"[\w.]+(Error|Exception): ", line)]
    if not starts:
        return " ".join(lines[-5:]).strip() or "the serving process died without a message"
    first, *rest = lines[starts[-1]:]
    parts = [first.split(": ", 1)[1], *rest]
    text = " ".join(part.strip() for part in parts if not _NOT_THE_REASON.match(part))
    return re.sub(r"\s*\[Op:[^\]]*\]", "", text).replace("\\'", "'")


def _raw_examples(config: Config, pattern: str, rows: int) -> tuple[list[bytes], int]:
    """The first `rows` valid input rows as tf.Examples, and how many invalid ones were skipped."""
    checker = RowChecker(config)
    examples, skipped = [], 0
    paths = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    for path in paths:
        for raw, encode in _read_raw(config, path):
            _, invalid = checker.check(raw)
            bad = {row.row - raw.first_row for row in invalid}
            skipped += len(bad)
            valid = [i for i in range(raw.batch.num_rows) if i not in bad]
            examples += encode(valid[:rows - len(examples)])
            if len(examples) >= rows:
                return examples, skipped
    return examples, skipped


def _read_raw(config: Config, path: str) -> Iterator[tuple[RawBatch, Callable]]:
    """(raw batch, a function giving chosen rows of it as serialized tf.Examples) pairs.

    Only valid rows are encoded: an invalid value may not even cast to its column's type.
    """
    if config.input_format == "tfrecord":
        reader = TFRecordReader(raw_schema_proto(config).SerializeToString())
        for raw, serialized in reader.read(path):
            yield raw, lambda rows, serialized=serialized: [serialized[i] for i in rows]
        return
    encoder = example_coder.RecordBatchToExamplesEncoder()
    for raw in read_parquet(path, list(config.schema)):
        yield raw, lambda rows, batch=raw.batch: encoder.encode(
            _with_missing_cells(batch.take(pa.array(rows, pa.int64())), config))


def _with_missing_cells(batch: pa.RecordBatch, config: Config) -> pa.RecordBatch:
    """Raw columns in list layout with null cells kept null: tf.Example leaves them out."""
    arrays, names = [], []
    for name in batch.schema.names:
        array, target = batch.column(name), column_value_type(config.schema[name])
        if pa.types.is_dictionary(array.type):  # pandas category
            array = array.dictionary_decode()
        if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            arrays.append(array.cast(pa.large_list(target)))
        else:
            offsets = pa.array(np.arange(len(array) + 1, dtype=np.int64))
            values = array.cast(target).fill_null(b"" if target == pa.large_binary() else 0)
            arrays.append(pa.LargeListArray.from_arrays(offsets, values,
                                                        mask=pc.is_null(array)))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names)


def _served_rows(served: dict[str, np.ndarray], spec: dict, count: int) -> list[tuple]:
    per_feature = []
    for name, feature_spec in spec.items():
        if isinstance(feature_spec, tf.io.FixedLenFeature):
            values = served[name].reshape(count, -1)
            per_feature.append([_same_nan(row.tolist()) for row in values])
            continue
        indices, values = served[f"{name}$indices"], served[f"{name}$values"].tolist()
        rows: list[list] = [[] for _ in range(count)]
        columns: list[list] = [[] for _ in range(count)]
        for (row, column), value in zip(indices.tolist(), _same_nan(values)):
            rows[row].append(value)
            columns[row].append(column)
        if isinstance(feature_spec, tf.io.SparseFeature):
            per_feature.append([(tuple(c), tuple(v)) for c, v in zip(columns, rows)])
        else:
            per_feature.append([tuple(v) for v in rows])
    return list(zip(*per_feature))


def _batch_chunks(output_dir: str, config: Config, spec: dict, *,
                  limit: int | None = None) -> Iterator[list[tuple]]:
    """The batch output rows (the first `limit` ones), a chunk at a time, as served rows."""
    data = os.path.join(output_dir, DATA_DIR)
    chunk_rows = min(limit or DEFAULT_BATCH_ROWS, DEFAULT_BATCH_ROWS)
    if config.output_format == "parquet":
        tables = (pa.Table.from_batches([batch]) for path in _files(data, ".parquet")
                  for batch in pq.ParquetFile(FileSystems.open(path)).iter_batches(
                      chunk_rows))
    else:
        decoder = example_coder.ExamplesToRecordBatchDecoder()
        tables = (pa.Table.from_batches([decoder.DecodeBatch(chunk.tolist())])
                  for path in _files(data, ".tfrecord.gz")
                  for chunk in tf.data.TFRecordDataset(path, compression_type="GZIP")
                  .batch(chunk_rows).as_numpy_iterator())
    remaining = limit
    for table in tables:
        if remaining is not None:
            if remaining <= 0:
                return
            table = table.slice(0, remaining)
            remaining -= table.num_rows
        columns = table.to_pydict()
        per_feature = []
        for name, feature_spec in spec.items():
            if isinstance(feature_spec, tf.io.SparseFeature):
                per_feature.append([(_cells(i), _cells(v)) for i, v in zip(
                    columns[feature_spec.index_key[0]], columns[feature_spec.value_key])])
            else:
                per_feature.append([_cells(v) for v in columns[name]])
        yield list(zip(*per_feature))


def _cells(value: Any) -> tuple:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    # Parquet output stores strings as UTF-8; serving returns bytes.
    return _same_nan([v.encode("utf-8") if isinstance(v, str) else v for v in values])


# One NaN object for every NaN: tuples compare items by identity before `==`,
# and a float's hash is its identity's when it is NaN, so with this a NaN
# matches a NaN, in sets too (valid input may hold NaN floats). Infinities
# already equal themselves.
NAN = float("nan")


def _same_nan(values: list) -> tuple:
    return tuple(NAN if value != value else value for value in values)


def _files(directory: str, suffix: str) -> list[str]:
    pattern = os.path.join(directory, f"part-*{suffix}")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def _compare(served: list[tuple], batch_chunks,
             names: list[str]) -> tuple[dict[str, int], int, int]:
    """Mismatch counts per feature, served rows not in the batch, batch rows seen.

    `batch_chunks()` yields lists of batch rows; it is read once to find the
    served rows, and once more only if some are missing, to find for each
    missing row the batch row closest to it. Memory stays bounded by a chunk.
    """
    missing, batch_rows = set(served), 0
    for chunk in batch_chunks():
        missing.difference_update(chunk)
        batch_rows += len(chunk)
    mismatches = dict.fromkeys(names, 0)
    if not missing:
        return mismatches, 0, batch_rows
    wanted = sorted(missing, key=served.index)
    targets = np.array([[hash(cell) for cell in row] for row in wanted], dtype=np.int64)
    best_score = np.full(len(wanted), -1)
    closest: list[tuple] = [()] * len(wanted)
    for chunk in batch_chunks():
        hashed = np.array([[hash(cell) for cell in row] for row in chunk], dtype=np.int64)
        for position, target in enumerate(targets):
            scores = (hashed == target).sum(axis=1)
            top = int(np.argmax(scores))
            if scores[top] > best_score[position]:
                best_score[position], closest[position] = scores[top], chunk[top]
    for row, nearest in zip(wanted, closest):
        for name, mine, theirs in zip(names, row, nearest):
            mismatches[name] += mine != theirs
    unmatched = sum(1 for row in served if row in missing)
    return mismatches, unmatched, batch_rows

"""Helpers shared by the test modules: paths, the CLI, reading a run's outputs,
and building tensors and features for the unit tests. Test modules import
from here, never from each other.

A run's outputs are compared as `Rows`: output name -> one canonical value
per row, whatever form they came in (Parquet or TFRecord files in OUT/data,
or the tensors `serving_default` returns). `row_differences` then says, per
feature, how many rows differ and shows the first.
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf

from pipeline.config import Column, Config, Feature, parse_config
from pipeline.transform.output_specs import output_feature_spec

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLE_PARQUET = REPO / "data" / "sample" / "flights.parquet"
SAMPLE_TFRECORD = REPO / "data" / "sample" / "flights.tfrecord.gz"
FLIGHTS_CONFIG = REPO / "configs" / "flights.yaml"

Rows = dict[str, list]  # output name -> one value per row

# The values that tend to break hashing and parsing, used by every test that
# needs edge values (unit tests, the reference, the edge data set): empty and
# non-ASCII strings, int64 extremes. The two lists have the same length, so
# they also make rows.
EDGE_STRINGS = ["", "A", "東京", "café", "😀🚀", "a longer string, with spaces", "ß" * 40, "x"]
EDGE_INTS = [0, 101, -1, 7, -2**63, 2**63 - 1, -123456789012, 2**40 + 1]


# Every run serves its first rows through its own serving/ in a fresh process
# (README "Exit codes"), a TensorFlow start-up per run. Test runs whose serving
# a test checks itself (test_parity.py, test_serving.py, test_verify.py, ...)
# pass this to skip it; the shared flights run keeps it (test_parity_sample.py).
NO_PARITY_SAMPLE = ("--verify-rows", "0")


def run_cli(*args: Any) -> int:
    """`featurecross ARGS...` in this process; returns the exit code."""
    from pipeline.cli.main import main
    return main([str(a) for a in args])


# --- a run's side files ----------------------------------------------------

def read_manifest(out: pathlib.Path) -> dict[str, Any]:
    """OUT/manifest.json, parsed as strict JSON (no NaN or Infinity)."""
    return json.loads((out / "manifest.json").read_text(), parse_constant=_reject_constant)


def _reject_constant(name: str) -> None:
    raise ValueError(f"manifest.json holds {name}, which strict JSON readers reject")


def manifest_boundaries(out: pathlib.Path) -> dict[str, list[float]]:
    """{bucketize feature: its boundaries} as the run's manifest records them."""
    return {f["name"]: f["boundaries"] for f in read_manifest(out)["features"]
            if "boundaries" in f}


def invalid_rows(out: pathlib.Path) -> list[dict[str, Any]]:
    """The quarantined rows in OUT/invalid/, in file order."""
    return [json.loads(line) for path in sorted((out / "invalid").glob("part-*"))
            for line in path.read_text().splitlines()]


# --- raw input -------------------------------------------------------------

def read_raw_rows(parquet: pathlib.Path, config: Config) -> list[dict[str, Any]]:
    """The raw rows of a Parquet file, schema columns only, nulls as None."""
    return pq.read_table(parquet, columns=list(config.schema)).to_pylist()


def default_columns(rows: list[dict], config: Config) -> dict[str, list]:
    """Raw columns with the defaults applied; a null sequence is empty."""
    columns = {}
    for name, column in config.schema.items():
        fill = [] if column.is_sequence else column.default
        values = [fill if row[name] is None else row[name] for row in rows]
        if column.type == "float":
            values = np.array(values, np.float32).tolist()  # the job reads float32
        columns[name] = values
    return columns


def to_example(row: Mapping[str, Any], schema: Mapping[str, Column]) -> bytes:
    """A serialized tf.Example of a raw row; null cells are left out."""
    features = {}
    for name, column in schema.items():
        value = row.get(name)
        if value is None:
            continue
        values = value if column.is_sequence else [value]
        if column.type == "string":
            feature = tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[v if isinstance(v, bytes) else v.encode("utf-8") for v in values]))
        elif column.type in ("int", "bool"):  # bool columns are int64 0/1
            feature = tf.train.Feature(int64_list=tf.train.Int64List(
                value=[int(v) for v in values]))
        else:
            feature = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        features[name] = feature
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString()


def examples(rows: list[dict], config: Config) -> list[bytes]:
    return [to_example(row, config.schema) for row in rows]


# The forms a missing scalar takes in a tf.Example (docs/config.md "Missing and invalid
# values"): the feature left out, present with no kind set, present with an empty list.
MISSING_FORMS = ("absent", "unset", "empty")
_VALUE_LISTS = {"string": "bytes_list", "int": "int64_list", "bool": "int64_list",
                "float": "float_list"}


def example_missing(row: Mapping[str, Any], schema: Mapping[str, Column], name: str,
                    form: str) -> bytes:
    """A serialized tf.Example of a raw row whose column `name` is missing in `form`."""
    example = tf.train.Example.FromString(to_example({**row, name: None}, schema))
    if form == "unset":
        example.features.feature[name].CopyFrom(tf.train.Feature())
    elif form == "empty":
        getattr(example.features.feature[name], _VALUE_LISTS[schema[name].type]).SetInParent()
    else:
        assert form == "absent", form
    return example.SerializeToString()


# --- the forms of output, as Rows ------------------------------------------

def batch_rows(out: pathlib.Path, config: Config) -> Rows:
    """OUT/data (Parquet or TFRecord), in file order, one canonical value per row."""
    spec = output_feature_spec(config)
    files = sorted(str(path) for path in (out / "data").glob("part-*"))
    if config.output_format == "tfrecord":
        records = list(tf.data.TFRecordDataset(files, compression_type="GZIP")
                       .as_numpy_iterator())
        parsed = tf.io.parse_example(records, spec)
        return tensors_to_rows(split_sparse(parsed), spec, len(records))
    stored = pq.read_table(files).to_pydict()
    return {name: (list(zip(stored[feature_spec.index_key[0]], stored[feature_spec.value_key]))
                   if isinstance(feature_spec, tf.io.SparseFeature) else _as_bytes(stored[name]))
            for name, feature_spec in spec.items()}


def _as_bytes(values: list) -> list:
    """Parquet's UTF-8 strings as the bytes TF gives, so both forms compare equal."""
    return [v.encode("utf-8") if isinstance(v, str) else
            [x.encode("utf-8") if isinstance(x, str) else x for x in v]
            if isinstance(v, list) else v for v in values]


def split_sparse(tensors: dict) -> dict[str, np.ndarray]:
    """Tensors as the serving signature gives them: a SparseTensor in `$` parts."""
    flat = {}
    for name, tensor in tensors.items():
        if isinstance(tensor, tf.SparseTensor):
            flat[f"{name}$indices"] = tensor.indices.numpy()
            flat[f"{name}$values"] = tensor.values.numpy()
        else:
            flat[name] = np.asarray(tensor)
    return flat


# The serving side of the tests: one interpreter for the whole test process,
# started on first use, that cannot import the project (a finder refuses
# `pipeline` and `tests`, installed in editable mode) and imports only
# TensorFlow. It serves each (SavedModel, examples) request sent on its stdin
# and writes the outputs and the signature it saw. One TensorFlow start-up
# for all the models the tests serve, instead of one per model.
SERVE_SCRIPT = """
import importlib.abc, json, sys

class NoProjectCode(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pipeline", "tests"):
            raise ImportError(f"serving must not need {name}")

sys.meta_path.insert(0, NoProjectCode())
import numpy as np
import tensorflow as tf

def describe(specs):
    return {name: [spec.dtype.name, None if spec.shape.rank is None else spec.shape.as_list()]
            for name, spec in specs.items()}

for line in sys.stdin:
    serving_dir, examples_path, result_path, signature_path = json.loads(line)
    examples = [r.numpy() for r in tf.data.TFRecordDataset(examples_path)]
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    outputs = serve(examples=tf.constant(examples, tf.string))
    np.savez(result_path, **{k: v.numpy() for k, v in outputs.items()})
    with open(signature_path, "w") as handle:
        json.dump({"inputs": describe(serve.structured_input_signature[1]),
                   "outputs": describe(serve.structured_outputs)}, handle)
    assert not any(m.split(".")[0] in ("pipeline", "tests") for m in sys.modules)
    print("served", flush=True)
"""


@dataclasses.dataclass
class Served:
    tensors: dict[str, np.ndarray]  # serving_default's outputs by name
    signature: dict[str, dict]      # {"inputs"|"outputs": {name: [dtype, shape]}}


class ServingProcess:
    """The interpreter SERVE_SCRIPT runs in; see `serve_in_one_fresh_process`."""

    def __init__(self) -> None:
        self.scratch = tempfile.mkdtemp(prefix="featurecross-test-serve-")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        self.stderr_path = os.path.join(self.scratch, "stderr.txt")
        self.requests = 0
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT],
                                            cwd=self.scratch, env=env, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=stderr, text=True)

    def serve(self, serving_dir: pathlib.Path, records: list[bytes]) -> Served:
        self.requests += 1
        base = os.path.join(self.scratch, str(self.requests))
        with tf.io.TFRecordWriter(base + ".tfrecord") as writer:
            for record in records:
                writer.write(record)
        request = [str(pathlib.Path(serving_dir).resolve()), base + ".tfrecord",
                   base + ".npz", base + ".json"]
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        except BrokenPipeError:
            answer = ""
        if answer != "served\n":
            self.process.wait()
            raise AssertionError(f"serving {serving_dir} failed:\n"
                                 + pathlib.Path(self.stderr_path).read_text()[-3000:])
        with np.load(base + ".npz", allow_pickle=True) as result:  # strings; our own file
            tensors = {name: result[name] for name in result.files}
        return Served(tensors, json.loads(pathlib.Path(base + ".json").read_text()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


_serving_process: ServingProcess | None = None


def serve_alone(serving_dir: pathlib.Path, records: list[bytes]) -> Served:
    """OUT/serving's answer to the serialized tf.Examples, from the serving process
    (started on first use, ended with the test process)."""
    global _serving_process
    if _serving_process is None or _serving_process.process.poll() is not None:
        _serving_process = ServingProcess()
        atexit.register(_serving_process.close)
    return _serving_process.serve(serving_dir, records)


def serve_in_one_fresh_process(requests: list[tuple[pathlib.Path, list[bytes]]]
                               ) -> list[dict[str, np.ndarray]]:
    """`serving_default` outputs for each (serving dir, examples), in the serving process
    (which never imports the project; see SERVE_SCRIPT)."""
    return [serve_alone(serving_dir, records).tensors for serving_dir, records in requests]


def served_rows(out: pathlib.Path, config: Config, rows: list[dict]) -> Rows:
    """OUT/serving's outputs for the raw rows, computed in the serving process."""
    (served,) = serve_in_one_fresh_process([(out / "serving", examples(rows, config))])
    return tensors_to_rows(served, output_feature_spec(config), len(rows))


def tensors_to_rows(tensors: dict[str, np.ndarray], spec: dict, count: int) -> Rows:
    """Signature outputs (sparse ones split in `$indices`, `$values`) as Rows."""
    result = {}
    for name, feature_spec in spec.items():
        if isinstance(feature_spec, tf.io.FixedLenFeature):
            result[name] = np.asarray(tensors[name]).tolist()
            continue
        indices = np.asarray(tensors[f"{name}$indices"]).tolist()
        values = np.asarray(tensors[f"{name}$values"]).tolist()
        columns, cells = [[] for _ in range(count)], [[] for _ in range(count)]
        for (row, column), value in zip(indices, values):
            columns[row].append(column)
            cells[row].append(value)
        result[name] = (list(zip(columns, cells)) if isinstance(feature_spec, tf.io.SparseFeature)
                        else cells)
    return result


def row_differences(actual: Rows, expected: Rows, names: list[str], *,
                    rtol: float = 0.0, atol: float = 0.0) -> list[str]:
    """One line per feature that differs: how many rows, and the first of them."""
    def same(a: Any, b: Any) -> bool:
        if (rtol or atol) and not isinstance(a, tuple):
            return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=rtol, atol=atol)
        return _plain(a) == _plain(b)

    problems = []
    for name in names:
        mine, theirs = actual[name], expected[name]
        if len(mine) != len(theirs):
            problems.append(f"{name}: {len(mine)} rows != {len(theirs)} rows")
            continue
        bad = [i for i, (a, b) in enumerate(zip(mine, theirs)) if not same(a, b)]
        if bad:
            problems.append(f"{name}: {len(bad)} rows differ; row {bad[0]}: "
                            f"{mine[bad[0]]!r} != {theirs[bad[0]]!r}")
    return problems


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


# --- tensors for the feature unit tests -------------------------------------

# Raw columns the feature unit tests build features over (see `make_feature`).
SCHEMA = {
    "s1": {"type": "string"}, "s2": {"type": "string"}, "i1": {"type": "int"},
    "x": {"type": "float"}, "y": {"type": "float"}, "z": {"type": "float"},
    "tokens": {"type": "string", "shape": "sequence"},
    "codes": {"type": "int", "shape": "sequence"},
}


def make_feature(spec: dict) -> Feature:
    """One validated feature named `f` over SCHEMA, built the way the config loader builds it."""
    config = parse_config({"input": {"format": "parquet"}, "schema": SCHEMA,
                           "features": [{"name": "f", **spec}]}, path="test.yaml")
    return config.features[0]


def column(values: list) -> tf.Tensor:
    """A dense scalar column: int64 for ints, string otherwise."""
    is_int = all(isinstance(v, int) for v in values)
    return tf.constant(values, tf.int64 if is_int else tf.string)


def columns(data: dict[str, list]) -> dict[str, tf.Tensor]:
    return {name: column(values) for name, values in data.items()}


def sequence(rows: list[list]) -> tf.SparseTensor:
    """A sequence column as the pipeline sees it: SparseTensor [batch, None]."""
    is_int = all(isinstance(v, int) for row in rows for v in row)
    return tf.ragged.constant(rows, tf.int64 if is_int else tf.string).to_sparse()


def as_2d(tensor: tf.Tensor | tf.SparseTensor) -> tf.Tensor | tf.SparseTensor:
    return tensor if isinstance(tensor, tf.SparseTensor) else tf.reshape(tensor, [-1, 1])


def one_per_row(tensor: tf.Tensor) -> tf.SparseTensor:
    """A dense column as a `[batch, 1]` SparseTensor keeping every value, "" and 0 too."""
    return tf.RaggedTensor.from_row_lengths(tensor, tf.ones_like(tensor, tf.int64)).to_sparse()


def sparse_rows(tensor: tf.SparseTensor) -> list[list]:
    """Values of each row, in stored order."""
    rows = [[] for _ in range(int(tensor.dense_shape[0]))]
    for (row, _), value in zip(tensor.indices.numpy(), tensor.values.numpy()):
        rows[row].append(value)
    return rows


def assert_sparse_equal(actual: tf.SparseTensor, expected: tf.SparseTensor) -> None:
    expected = tf.sparse.reorder(expected)
    np.testing.assert_array_equal(actual.indices, expected.indices)
    np.testing.assert_array_equal(actual.values, expected.values)
    np.testing.assert_array_equal(actual.dense_shape, expected.dense_shape)


# --- a run's content, wherever it lives --------------------------------------
# Runs on different runners or filesystems write the same rows in different
# files, orders and tf.Example map orders; their content is equal when these
# multisets are. Reads local paths and gs:// alike, through tf.io.gfile.

def data_digests(output_dir) -> dict[str, str]:
    """SHA-256 of every file in `OUT/data/`, by name: equal digests are equal bytes."""
    data = pathlib.Path(output_dir) / "data"
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(data.iterdir())}


def tfrecord_content(output_dir) -> collections.Counter:
    """Counter of rows, a row being its features sorted by name with their values."""
    files = sorted(tf.io.gfile.glob(os.path.join(str(output_dir), "data",
                                                 "part-*.tfrecord.gz")))
    assert files, f"no TFRecord data files in {output_dir}"
    rows: collections.Counter = collections.Counter()
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        rows[_row(tf.train.Example.FromString(record))] += 1
    return rows


def _row(example: tf.train.Example) -> tuple:
    features = example.features.feature
    return tuple((name, _values(features[name])) for name in sorted(features))


def _values(feature: tf.train.Feature) -> tuple:
    kind = feature.WhichOneof("kind")
    return (kind, tuple(getattr(feature, kind).value)) if kind else (None, ())


# --- inputs that a unit test file and its job test file share ----------------
# (tests/unit/test_X.py checks what needs no pipeline; tests/jobs/test_X_job.py
# runs the job on the same input.)

# test_auto_bins*.py: four auto crosses (one over a quantile-bucketized feature,
# one feeding another cross, one generated by `crosses:`) next to a vocabulary cross.
AUTO_BINS_CONFIG = f"""
input: {{format: parquet, pattern: {SAMPLE_PARQUET}}}
schema:
  carrier:  {{type: string}}
  origin:   {{type: string}}
  dest:     {{type: string}}
  tailnum:  {{type: string, default: ""}}
  distance: {{type: float}}
features:
  - {{name: route, cross: [origin, dest], num_bins: auto, max_collision_rate: 0.01}}
  - {{name: distance_bucket, bucketize: distance, num_buckets: 10}}
  - {{name: tail_x_distance, cross: [tailnum, distance_bucket], num_bins: auto,
     max_collision_rate: 0.05}}
  - {{name: carrier_x_route, cross: [carrier, route], num_bins: auto, max_collision_rate: 0.2}}
  - {{name: carrier_origin_vocab, cross: [carrier, origin], vocabulary: {{top_k: 40}}}}
crosses:
  - {{all_of: [carrier, dest], num_bins: auto, max_collision_rate: 0.02}}
keep: [carrier, origin, dest, tailnum, distance]
output: {{format: parquet}}
"""

# test_suggest*.py: data with a planted interaction (see test_suggest_job.py).
PLANTED_ROWS = 16_000
PLANTED_CONFIG = """
input: {{format: parquet, pattern: {data}}}
schema:
  x1: {{type: string}}
  x2: {{type: string}}
  m1: {{type: string}}
  m2: {{type: int}}
  h1: {{type: string}}
  h2: {{type: string}}
  y:  {{type: string}}
  y3: {{type: string}}
  score: {{type: float}}
features:
  - {{name: score_band, bucketize: score, boundaries: [0.5]}}
  - {{name: h1_id, hash: h1, num_bins: 1000}}
"""


def write_planted_interaction(root: pathlib.Path) -> pathlib.Path:
    """ROOT/planted.parquet (PLANTED_ROWS rows) and its config, ROOT/planted.yaml;
    returns the config's path."""
    rows = PLANTED_ROWS
    rng = np.random.default_rng(2026)
    x1, x2 = rng.integers(0, 2, rows), rng.integers(0, 2, rows)
    y = (x1 ^ x2) ^ (rng.random(rows) < 0.1)
    m1 = np.where(rng.random(rows) < 0.9, y, 1 - y)
    m2 = np.where(rng.random(rows) < 0.9, y, 1 - y)
    y3 = np.where(y == 0, 0, 1 + rng.integers(0, 2, rows))  # 0, or 1 or 2 at random
    table = pa.table({
        "x1": [f"x1={v}" for v in x1], "x2": [f"x2={v}" for v in x2],
        "m1": [f"m1={v}" for v in m1], "m2": pa.array(m2, pa.int64()),
        "h1": [f"h{v}" for v in rng.integers(0, 400, rows)],
        "h2": [f"h{v}" for v in rng.integers(0, 400, rows)],
        "y": [str(v) for v in y], "y3": [str(v) for v in y3],
        "score": pa.array(y + rng.normal(0, 0.1, rows), pa.float64())})
    pq.write_table(table, root / "planted.parquet")
    config = root / "planted.yaml"
    config.write_text(PLANTED_CONFIG.format(data=root / "planted.parquet"))
    return config


# --- a user's own table, for `featurecross init` ----------------------------

def user_table(rows: int = 3000, seed: int = 0):
    """A table as a new user brings it (pandas): strings with nulls, a pandas
    categorical, a high-cardinality id, a nullable int, a small int, floats, booleans,
    a list column and an int label."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "city": rng.choice(["paris", "rome", "oslo", "lima"], rows).astype(object),
        "device": pd.Categorical(rng.choice(["ios", "android", "web"], rows)),
        "user": [f"u{i}" for i in rng.integers(0, 2500, rows)],
        "age": pd.array([None if i % 17 == 0 else int(v)
                         for i, v in enumerate(rng.integers(18, 80, rows))], dtype="Int64"),
        "hour": rng.integers(0, 24, rows),
        "price": rng.gamma(2.0, 10.0, rows),
        "premium": rng.random(rows) < 0.3,
        "tags": [list(rng.choice(["a", "b", "c", "d"], rng.integers(0, 3)))
                 for _ in range(rows)],
        "clicked": rng.integers(0, 2, rows),
    })
    frame.loc[::50, "city"] = None
    return frame

"""An empty value list is missing, in batch and serving alike (docs/config.md "Missing
and invalid values"), without a pipeline.

A real TFRecord file holds, for every column, a row with that column left out, one
with the feature present but no kind set, and one with an empty value list. The batch
side is the job's own reader and row check (`TFRecordReader`, `RowChecker`); the
serving side is the serving model's own parsing (`parse_requests`, what
`serving/` runs before the transform graph), in this process. Both must read the
three forms alike: the default when the column has one, an invalid row or a refused
request naming the column when it has none. Non-empty input parses exactly as the
FixedLenFeature spec it replaces did.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import parse_config
from pipeline.io.rows import RowChecker
from pipeline.io.sources import TFRecordReader
from pipeline.serving.export import parse_requests
from pipeline.transform.raw_specs import raw_feature_spec, raw_schema_proto
from tests.support import MISSING_FORMS, example_missing, to_example

CONFIG = parse_config({
    "input": {"format": "tfrecord"},
    "schema": {
        "i": {"type": "int"}, "i_d": {"type": "int", "default": 7},
        "f": {"type": "float"}, "f_d": {"type": "float", "default": 0.5},
        "s": {"type": "string"}, "s_d": {"type": "string", "default": "zz"},
        "b_d": {"type": "bool", "default": True},
        "label": {"type": "int"},                      # only `keep:` carries it
        "tags": {"type": "string", "shape": "sequence"},
        "codes": {"type": "int", "shape": "sequence"},
    },
    "features": [
        {"name": "c1", "cross": ["i", "s"], "num_bins": 1000},
        {"name": "c2", "cross": ["i_d", "s_d", "b_d"], "num_bins": 1000},
        {"name": "b1", "bucketize": "f", "boundaries": [1.0, 2.0]},
        {"name": "b2", "bucketize": "f_d", "boundaries": [1.0, 2.0]},
        {"name": "h1", "hash": "tags", "num_bins": 100},
        {"name": "h2", "hash": "codes", "num_bins": 100},
    ],
    "keep": ["label"],
}, path="empty_values.yaml")
ROW = {"i": 3, "i_d": 4, "f": 1.5, "f_d": 2.5, "s": "a", "s_d": "b", "b_d": 0, "label": 1,
       "tags": ["x", "y"], "codes": [5, 6]}
MISSING = {"i_d": 7, "f_d": 0.5, "s_d": b"zz", "b_d": 1, "tags": [], "codes": []}
NO_DEFAULT = ["i", "f", "s", "label"]
CASES = [(name, form) for name in CONFIG.schema for form in MISSING_FORMS]


@pytest.fixture(scope="module")
def read(tmp_path_factory):
    """Every case, then the full row, as a TFRecord file; the batch side's clean rows
    (by case) and invalid rows (by case), and the records."""
    records = [example_missing(ROW, CONFIG.schema, name, form) for name, form in CASES]
    records.append(to_example(ROW, CONFIG.schema))
    path = tmp_path_factory.mktemp("empty_values") / "cases.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    reader = TFRecordReader(raw_schema_proto(CONFIG).SerializeToString())
    ((raw, serialized),) = list(reader.read(str(path)))
    assert serialized == records
    clean, invalid = RowChecker(CONFIG).check(raw)
    invalid_by_row = {row.row: row for row in invalid}
    valid_rows = [index for index in range(len(records)) if index not in invalid_by_row]
    clean_by_row = dict(zip(valid_rows, clean.to_pylist()))
    return {"clean": clean_by_row, "invalid": invalid_by_row, "records": records}


def batch_value(cell: list, name: str):
    return cell if CONFIG.schema[name].is_sequence else cell[0]


@pytest.mark.parametrize("name, form", CASES)
def test_the_batch_job_reads_every_form_of_missing_alike(read, name, form):
    index = CASES.index((name, form))
    if name in NO_DEFAULT:
        row = read["invalid"][index]
        assert (row.column, row.reason) == (
            name, "is null or missing, and the column has no default")
        return
    assert index not in read["invalid"], read["invalid"].get(index)
    clean = read["clean"][index]
    assert batch_value(clean[name], name) == MISSING[name]
    full = read["clean"][len(CASES)]  # every other column as in the full row
    assert {k: v for k, v in clean.items() if k != name} == {
        k: v for k, v in full.items() if k != name}


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
def _parse(examples):
    return parse_requests(examples, CONFIG)


def serve(records: list[bytes]) -> dict:
    """`parse_requests` in a tf.function, as serving/ runs it (traced once)."""
    return _parse(tf.constant(records))


def served_value(tensor):
    if isinstance(tensor, tf.SparseTensor):
        return tensor.values.numpy().tolist()
    (value,) = tensor.numpy().tolist()
    return value


@pytest.mark.parametrize("name, form", CASES)
def test_serving_reads_every_form_of_missing_as_the_batch_job(read, name, form):
    index = CASES.index((name, form))
    record = read["records"][index]
    if name == "label":  # no feature reads it: optional in a request (docs/outputs.md)
        assert served_value(serve([record])["label"]) == 0
        return
    if name in NO_DEFAULT:
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=rf"column \\*'{name}\\*' is missing or empty, and the "
                                 "column has no default"):
            serve([record])
        return
    served = serve([record])
    clean = read["clean"][index]
    for column in CONFIG.schema:
        assert served_value(served[column]) == batch_value(clean[column], column), column


def test_a_batch_of_requests_fills_only_the_missing_rows(read):
    """Rows with and without a value side by side: each gets its own, in row order."""
    indices = [CASES.index(("i_d", form)) for form in MISSING_FORMS]
    full = len(CASES)
    order = [full, indices[0], full, indices[1], indices[2], full]
    served = serve([read["records"][i] for i in order])
    assert served["i_d"].numpy().tolist() == [4, 7, 4, 7, 7, 4]
    assert served["s_d"].numpy().tolist() == [b"b"] * 6
    assert served["i"].numpy().tolist() == [3] * 6


def read_one(record: bytes, directory) -> list:
    """The batch side's invalid rows for one record, read from a TFRecord file."""
    path = directory / "one.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(record)
    reader = TFRecordReader(raw_schema_proto(CONFIG).SerializeToString())
    ((raw, _),) = list(reader.read(str(path)))
    return RowChecker(CONFIG).check(raw)[1]


@pytest.mark.parametrize("name", ["i", "i_d", "f_d", "s", "label"])
def test_more_than_one_value_is_refused_in_batch_and_serving(name, tmp_path):
    type_ = CONFIG.schema[name].type
    two = {"int": [1, 2], "float": [1.0, 2.0], "string": ["p", "q"]}[type_]
    example = tf.train.Example.FromString(to_example(ROW, CONFIG.schema))
    kind = {"int": "int64_list", "float": "float_list", "string": "bytes_list"}[type_]
    values = getattr(example.features.feature[name], kind).value
    del values[:]
    values.extend(v.encode() if isinstance(v, str) else v for v in two)
    record = example.SerializeToString()
    assert [(row.column, row.reason) for row in read_one(record, tmp_path)] == [
        (name, "holds 2 values; a scalar needs one")]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"column \\*'{name}\\*' holds more than one value"):
        serve([record])


def test_an_empty_list_of_the_wrong_kind_is_refused_in_batch_and_serving(tmp_path):
    example = tf.train.Example.FromString(to_example({**ROW, "i_d": None}, CONFIG.schema))
    example.features.feature["i_d"].float_list.SetInParent()
    record = example.SerializeToString()
    (row,) = read_one(record, tmp_path)
    assert row.column == "i_d" and row.reason.startswith("cannot be decoded")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Key: i_d.*Data types don't match"):
        serve([record])


def test_non_empty_input_parses_exactly_as_the_fixed_length_spec_did():
    """The scalars' former FixedLenFeature spec (defaults in) and the serving parse give
    the same tensors, bit for bit, on rows holding every value and rows lacking some."""
    rows = [ROW, {**ROW, "i": -2**63, "f": math.inf, "s": "東京", "f_d": -0.0},
            {**ROW, "i_d": None, "s_d": None, "b_d": None, "f_d": None},
            {**ROW, "i": 2**63 - 1, "f": 1e-45, "s": "", "tags": None, "codes": None}]
    records = tf.constant([to_example(row, CONFIG.schema) for row in rows])
    spec = raw_feature_spec(CONFIG, with_defaults=True)
    spec["label"] = tf.io.FixedLenFeature([], tf.int64, default_value=0)
    fixed = tf.io.parse_example(records, spec)
    served = serve(records.numpy().tolist())
    assert sorted(served) == sorted(fixed)
    for name, tensor in fixed.items():
        if isinstance(tensor, tf.SparseTensor):
            for part in ("indices", "values", "dense_shape"):
                np.testing.assert_array_equal(getattr(served[name], part),
                                              getattr(tensor, part), err_msg=name)
            continue
        assert served[name].dtype == tensor.dtype and served[name].shape == tensor.shape
        mine, theirs = served[name].numpy(), tensor.numpy()
        if tensor.dtype == tf.string:
            assert mine.tolist() == theirs.tolist(), name
        else:  # the bits: -0.0 and 0.0 differ here
            assert mine.tobytes() == theirs.tobytes(), name

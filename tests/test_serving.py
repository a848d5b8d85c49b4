"""OUT/serving stands alone: copied away from everything else, it still serves.

Only the serving SavedModel is copied to an empty directory (no
transform_fn/, config, data or project code), loaded with
`tf.saved_model.load` by a fresh interpreter that runs in that directory and
cannot import `pipeline`, and fed raw tf.Examples. Its outputs must equal the
batch output rows, its signature must match the contract in
`pipeline/serving.py`, and an absent optional column must act as its default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import load_config
from pipeline.outputs import output_feature_spec
from tests.support import batch_rows, examples, row_differences, tensors_to_rows

ROWS = 60  # data rows served; the default-value requests follow them

SERVE_ALONE = """
import importlib.abc, json, sys
import numpy as np

class NoProjectCode(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pipeline", "tests"):
            raise ImportError(f"serving must not need {name}")

sys.meta_path.insert(0, NoProjectCode())
import tensorflow as tf

examples_path, result_path, signature_path = sys.argv[1:]
model = tf.saved_model.load(".")
serve = model.signatures["serving_default"]
examples = [r.numpy() for r in tf.data.TFRecordDataset(examples_path)]
outputs = serve(examples=tf.constant(examples))
assert "pipeline" not in sys.modules and "tests" not in sys.modules

def describe(specs):
    return {name: [spec.dtype.name, None if spec.shape.rank is None else spec.shape.as_list()]
            for name, spec in specs.items()}

with open(signature_path, "w") as handle:
    json.dump({"inputs": describe(serve.structured_input_signature[1]),
               "outputs": describe(serve.structured_outputs)}, handle)
np.savez(result_path, **{name: tensor.numpy() for name, tensor in outputs.items()})
"""


def with_defaults(row: dict, config) -> dict:
    """The row with every null cell replaced by what a missing cell means."""
    filled = dict(row)
    for name, column in config.schema.items():
        if filled[name] is None:
            filled[name] = [] if column.is_sequence else column.default
    return filled


@pytest.fixture(scope="module")
def served(edge_parquet_run, tmp_path_factory):
    """Serves data rows, then (row 0 with its nulls left out, the same row with the
    defaults written in), from a copy of serving/ alone, in a fresh process."""
    run = edge_parquet_run
    config = load_config(str(run.config))
    alone = tmp_path_factory.mktemp("serving_alone") / "serving"
    shutil.copytree(run.out / "serving", alone)
    assert sorted(os.listdir(alone.parent)) == ["serving"]
    null_row = run.data.rows[0]
    assert all(null_row[name] is None for name in ("city", "code", "price", "tags"))
    requests = run.data.rows[:ROWS] + [null_row, with_defaults(null_row, config)]

    scratch = tmp_path_factory.mktemp("serving_io")
    with tf.io.TFRecordWriter(str(scratch / "examples.tfrecord")) as writer:
        for example in examples(requests, config):
            writer.write(example)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run(
        [sys.executable, "-c", SERVE_ALONE, str(scratch / "examples.tfrecord"),
         str(scratch / "served.npz"), str(scratch / "signature.json")],
        cwd=alone, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(scratch / "served.npz", allow_pickle=True) as result:  # strings; our file
        tensors = {name: result[name] for name in result.files}
    return {"run": run, "config": config, "tensors": tensors, "count": len(requests),
            "signature": json.loads((scratch / "signature.json").read_text())}


def test_serving_alone_reproduces_the_batch_output(served):
    config = served["config"]
    spec = output_feature_spec(config)
    rows = tensors_to_rows(served["tensors"], spec, served["count"])
    batch = batch_rows(served["run"].out, config)
    names = list(spec)
    assert row_differences({n: rows[n][:ROWS] for n in names},
                           {n: batch[n][:ROWS] for n in names}, names) == []


def expected_signature(spec: dict) -> dict:
    """The contract in pipeline/serving.py's docstring, from the output spec."""
    outputs = {}
    for name, feature_spec in spec.items():
        if isinstance(feature_spec, tf.io.FixedLenFeature):
            outputs[name] = [feature_spec.dtype.name, [None, *feature_spec.shape]]
        else:
            outputs[f"{name}$indices"] = ["int64", [None, 2]]
            outputs[f"{name}$values"] = [feature_spec.dtype.name, [None]]
            outputs[f"{name}$dense_shape"] = ["int64", [2]]
    return {"inputs": {"examples": ["string", [None]]}, "outputs": outputs}


def test_signature_matches_the_documented_contract(served):
    expected = expected_signature(output_feature_spec(served["config"]))
    assert served["signature"]["inputs"] == expected["inputs"]
    assert sorted(served["signature"]["outputs"]) == sorted(expected["outputs"])
    assert served["signature"]["outputs"] == expected["outputs"]
    tensors = served["tensors"]
    for name, (dtype, shape) in expected["outputs"].items():
        assert tensors[name].dtype == np.dtype(tf.as_dtype(dtype).as_numpy_dtype), name
        assert len(tensors[name].shape) == len(shape), name
    for feature in served["config"].features:  # sparse outputs declare their width
        if feature.output != "int" and feature.sparse:
            shape = tensors[f"{feature.name}$dense_shape"].tolist()
            assert shape == [served["count"], feature.width], feature.name


def test_a_missing_optional_column_gets_its_default(served):
    spec = output_feature_spec(served["config"])
    rows = tensors_to_rows(served["tensors"], spec, served["count"])
    missing = {name: [values[-2]] for name, values in rows.items()}
    explicit = {name: [values[-1]] for name, values in rows.items()}
    assert row_differences(missing, explicit, list(spec)) == []
    batch = batch_rows(served["run"].out, served["config"])
    assert row_differences(missing, {name: [batch[name][0]] for name in spec},
                           list(spec)) == []

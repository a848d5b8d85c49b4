"""OUT/serving stands alone: copied away from everything else, it still serves.

Only the serving SavedModel is copied to an empty directory (no
transform_fn/, config, data or project code), loaded with
`tf.saved_model.load` by another interpreter that cannot import `pipeline`
(tests/support.py's serving process), and fed raw tf.Examples. Its outputs
must equal the batch output rows, its signature must match the contract in
`pipeline/serving/export.py`, and an absent optional column must act as its default.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import load_config
from pipeline.transform.output_specs import output_feature_spec
from tests.support import batch_rows, examples, row_differences, serve_alone, tensors_to_rows

ROWS = 60  # data rows served; the default-value requests follow them


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
    defaults written in), from a copy of serving/ alone, in the serving process."""
    run = edge_parquet_run
    config = load_config(str(run.config))
    alone = tmp_path_factory.mktemp("serving_alone") / "serving"
    shutil.copytree(run.out / "serving", alone)
    assert sorted(os.listdir(alone.parent)) == ["serving"]
    null_row = run.data.rows[0]
    assert all(null_row[name] is None for name in ("city", "code", "price", "tags"))
    requests = run.data.rows[:ROWS] + [null_row, with_defaults(null_row, config)]
    served = serve_alone(alone, examples(requests, config))
    return {"run": run, "config": config, "tensors": served.tensors, "count": len(requests),
            "signature": served.signature}


def test_serving_alone_reproduces_the_batch_output(served):
    config = served["config"]
    spec = output_feature_spec(config)
    rows = tensors_to_rows(served["tensors"], spec, served["count"])
    batch = batch_rows(served["run"].out, config)
    names = list(spec)
    assert row_differences({n: rows[n][:ROWS] for n in names},
                           {n: batch[n][:ROWS] for n in names}, names) == []


def expected_signature(spec: dict) -> dict:
    """The contract in pipeline/serving/export.py's docstring, from the output spec."""
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

"""Quantile buckets against tf.Transform's own boundaries (docs/config.md "A config").

A tf.Transform analysis on Beam; the feature ops alone are
tests/unit/test_features.py's.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from pipeline.config import parse_config
from pipeline.transform.features import make_preprocessing_fn
from pipeline.transform.raw_specs import raw_feature_spec


@pytest.fixture(autouse=True)
def fresh_global_graph():
    """Drops what eager ops leave in the global graph, before and after.

    An eager `encode(sparse=True)` (tests/unit/test_features.py, or any test run
    before this one) records tf.Transform's sparse-shape annotation (eager
    tensors) in the global graph's collections; a later tf.Transform trace in
    this process inherits them and fails on `Tensor.name`.
    """
    tf.compat.v1.reset_default_graph()
    yield
    tf.compat.v1.reset_default_graph()


def test_quantile_buckets_follow_tft_boundaries(tmp_path):
    num_buckets = 4
    config = parse_config({
        "input": {"format": "parquet"},
        "schema": {"origin": {"type": "string"}, "distance": {"type": "float"}},
        "features": [
            {"name": "distance_bucket", "bucketize": "distance", "num_buckets": num_buckets},
            {"name": "origin_x_distance", "cross": ["origin", "distance_bucket"],
             "num_bins": 100},
        ]}, path="test.yaml")
    preprocessing_fn = make_preprocessing_fn(config)

    def with_boundaries(inputs: dict) -> dict:
        outputs = preprocessing_fn(inputs)
        # The analyzer tft.bucketize runs, with its default epsilon.
        boundaries = tft.quantiles(inputs["distance"], num_buckets,
                                   epsilon=min(1.0 / num_buckets, 0.01))
        outputs["boundaries"] = tf.tile(boundaries, [tf.shape(inputs["distance"])[0], 1])
        return outputs

    rows = [{"origin": o, "distance": float(d)}
            for o, d in zip(["JFK", "LGA", "EWR"] * 14, range(0, 1260, 30))]
    metadata = tft.DatasetMetadata.from_feature_spec(raw_feature_spec(config))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), _ = ((rows, metadata)
                               | tft_beam.AnalyzeAndTransformDataset(with_boundaries))
    boundaries = np.asarray(transformed[0]["boundaries"])
    assert len(boundaries) == num_buckets - 1 and np.all(np.diff(boundaries) > 0)
    buckets = [int(r["distance_bucket"]) for r in transformed]
    distances = [r["distance"] for r in rows]
    assert buckets == np.searchsorted(boundaries, distances, side="right").tolist()
    assert sorted(set(buckets)) == list(range(num_buckets))
    crossed = tf.sparse.cross_hashed([tf.constant([[r["origin"]] for r in rows]),
                                      tf.constant([[b] for b in buckets], tf.int64)],
                                     num_buckets=100)
    assert [int(r["origin_x_distance"]) for r in transformed] == crossed.values.numpy().tolist()

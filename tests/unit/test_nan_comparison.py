"""The parity comparison takes NaN for NaN and an infinity for itself (docs/running.md
"The parity sample"): valid input with NaN floats must not fail a run."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from pipeline.serving.verify import _cells, _compare, _served_rows

SPEC = {"product": tf.io.FixedLenFeature([], tf.float32),
        "poly": tf.io.FixedLenFeature([2], tf.float32)}


def served(product: list[float], poly: list[list[float]]) -> list[tuple]:
    return _served_rows({"product": np.array(product, np.float32),
                         "poly": np.array(poly, np.float32)}, SPEC, len(product))


def batch(product: list[float], poly: list[list[float]]) -> list[tuple]:
    """Batch rows as verify reads them from the output files (Python floats)."""
    return [(_cells(p), _cells(q)) for p, q in zip(product, poly)]


def test_nan_and_infinities_match_themselves():
    nan, inf = math.nan, math.inf
    rows = served([nan, inf, 1.5], [[nan, -inf], [0.0, nan], [1.0, 2.0]])
    chunks = [batch([float("nan"), inf, 1.5], [[float("nan"), -inf], [0.0, float("nan")],
                                               [1.0, 2.0]])]
    mismatches, unmatched, batch_rows = _compare(rows, lambda: iter(chunks), list(SPEC))
    assert (mismatches, unmatched, batch_rows) == ({"product": 0, "poly": 0}, 0, 3)


def test_nan_still_differs_from_a_number():
    rows = served([math.nan], [[1.0, 2.0]])
    chunks = [batch([0.0], [[1.0, 2.0]])]
    mismatches, unmatched, _ = _compare(rows, lambda: iter(chunks), list(SPEC))
    assert (mismatches, unmatched) == ({"product": 1, "poly": 0}, 1)

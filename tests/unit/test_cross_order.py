"""Crosses hash their inputs in the order the config lists them (docs/config.md
"Crosses and input order"), and take every 64-bit hash_key TF takes.

Each case is checked against the TF form docs/config.md maps it to:
`tf.sparse.cross_hashed` with every input sparse (the listed order), the same
op fed dense scalars and sparse sequences (matched by listing the sequences
first), `tf.feature_column.crossed_column` over `VarLenFeature` inputs, and
the pure-Python FarmHash reference. Serving in a fresh process is covered by
the edge config's mixed crosses in test_parity.py and test_serving.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from pipeline.transform.features import compute_feature
from tests.farmhash_reference import cross_row
from tests.support import (
    assert_sparse_equal,
    column,
    make_feature,
    one_per_row,
    sequence,
    sparse_rows,
)

S1 = ["DL", "", "AA", "café", "東京"]
I1 = [1, 0, -1, 2**63 - 1, -2**63]
TOKENS = [["a", "b"], [], ["", "東京", "a"], ["😀"], ["x", "y", "z"]]
EMPTY = [[], [], [], [], []]
NUM_BINS = 2**40  # wide enough that a changed order shows in every id

CASES = {
    "scalar_then_sequence": (["s1", "tokens"], TOKENS),
    "sequence_then_scalar": (["tokens", "s1"], TOKENS),
    "int_then_sequence": (["i1", "tokens"], TOKENS),
    "sequence_in_the_middle": (["s1", "tokens", "i1"], TOKENS),
    "empty_sequences": (["s1", "tokens"], EMPTY),
}


def raw(tokens: list[list]) -> dict[str, list]:
    return {"s1": S1, "i1": I1, "tokens": tokens}


def pipeline_tensors(tokens: list[list]) -> dict:
    """What the pipeline's cross sees: dense scalars, a SparseTensor sequence."""
    return {"s1": column(S1), "i1": column(I1), "tokens": sequence(tokens)}


def all_sparse(tokens: list[list]) -> dict:
    """A TF pipeline that parsed every column as a SparseTensor."""
    return {"s1": one_per_row(column(S1)), "i1": one_per_row(column(I1)),
            "tokens": sequence(tokens)}


def reference_rows(names: list[str], tokens: list[list], hash_key: int | None = None) -> list:
    columns = raw(tokens)
    key = {} if hash_key is None else {"hash_key": hash_key}
    return [cross_row([columns[n][row] for n in names], NUM_BINS, **key)
            for row in range(len(S1))]


def ours(names: list[str], tokens: list[list], **settings) -> tf.SparseTensor:
    feature = make_feature({"cross": names, "num_bins": NUM_BINS, **settings})
    return compute_feature(feature, pipeline_tensors(tokens))


@pytest.mark.parametrize("case", CASES)
def test_cross_matches_all_sparse_tf_in_listed_order(case):
    names, tokens = CASES[case]
    ids = ours(names, tokens)
    inputs = all_sparse(tokens)
    expected = tf.sparse.cross_hashed([inputs[n] for n in names], num_buckets=NUM_BINS)
    assert_sparse_equal(ids, expected)
    assert sparse_rows(ids) == reference_rows(names, tokens)
    assert len(ids.values) == sum(len(t) for t in tokens)


@pytest.mark.parametrize("case", CASES)
def test_dense_and_sparse_tf_form_is_matched_by_listing_sequences_first(case):
    tf_names, tokens = CASES[case]
    tensors = pipeline_tensors(tokens)
    dense_and_sparse = [tensors[n] if n == "tokens" else tf.reshape(tensors[n], [-1, 1])
                        for n in tf_names]
    expected = tf.sparse.cross_hashed(dense_and_sparse, num_buckets=NUM_BINS)
    config_names = ["tokens"] + [n for n in tf_names if n != "tokens"]
    assert_sparse_equal(ours(config_names, tokens), expected)


def test_listed_order_changes_the_ids():
    """`[s1, tokens]` and `[tokens, s1]` differ, in every id of every row."""
    forward = sparse_rows(ours(["s1", "tokens"], TOKENS))
    backward = sparse_rows(ours(["tokens", "s1"], TOKENS))
    assert [len(r) for r in forward] == [len(r) for r in backward] == [len(t) for t in TOKENS]
    for a, b in zip(forward, backward):
        assert not set(a) & set(b)


def var_len_features(tokens: list[list]) -> dict:
    """The columns as tf.Examples parsed with `VarLenFeature`, scalars included."""
    records = []
    for s1, i1, row_tokens in zip(S1, I1, tokens):
        feature = {
            "s1": tf.train.Feature(bytes_list=tf.train.BytesList(value=[s1.encode()])),
            "i1": tf.train.Feature(int64_list=tf.train.Int64List(value=[i1])),
            "tokens": tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[t.encode() for t in row_tokens])),
        }
        records.append(tf.train.Example(features=tf.train.Features(feature=feature))
                       .SerializeToString())
    spec = {"s1": tf.io.VarLenFeature(tf.string), "i1": tf.io.VarLenFeature(tf.int64),
            "tokens": tf.io.VarLenFeature(tf.string)}
    return tf.io.parse_example(records, spec)


@pytest.mark.parametrize("hash_key", [None, -1], ids=["default_key", "key_minus_1"])
@pytest.mark.parametrize("case", ["scalar_then_sequence", "sequence_then_scalar",
                                  "sequence_in_the_middle"])
def test_cross_matches_crossed_column_on_var_len_features(case, hash_key):
    names, tokens = CASES[case]
    num_bins = 1009
    settings = {} if hash_key is None else {"hash_key": hash_key}
    feature = make_feature({"cross": names, "num_bins": num_bins, **settings})
    ids = compute_feature(feature, pipeline_tensors(tokens))
    crossed = tf.feature_column.crossed_column(names, num_bins, hash_key=hash_key)
    layer = tf_keras.layers.DenseFeatures([tf.feature_column.indicator_column(crossed)])
    counts = layer(var_len_features(tokens)).numpy()
    expected = [np.bincount(row, minlength=num_bins) for row in sparse_rows(ids)]
    np.testing.assert_array_equal(counts, np.stack(expected))


# --- hash_key: every 64-bit value TF's kernel can be keyed with ---------------

def tf_refuses(hash_key: int) -> bool:
    try:
        tf.sparse.cross_hashed([tf.constant([["a"]])], hash_key=hash_key)
    except (OverflowError, ValueError):
        return True
    return False


@pytest.mark.parametrize("names", [["s1", "i1"], ["s1", "tokens", "i1"]],
                         ids=["all_scalar", "with_sequence"])
@pytest.mark.parametrize("given, tf_key", [(0, 0), (-1, -1), (2**64 - 1, -1)],
                         ids=["zero", "minus_1", "2**64-1"])
def test_hash_key_matches_tf(names, given, tf_key):
    """0 is TF's default key; 2**64 - 1 is -1's bits, which TF's Python API only
    takes spelled as -1."""
    assert tf_refuses(given) is (given >= 2**63)
    inputs = all_sparse(TOKENS)
    expected = tf.sparse.cross_hashed([inputs[n] for n in names], num_buckets=NUM_BINS,
                                      hash_key=tf_key)
    ids = ours(names, TOKENS, hash_key=given)
    if "tokens" in names:
        assert_sparse_equal(ids, expected)
        rows = sparse_rows(ids)
    else:
        np.testing.assert_array_equal(ids, expected.values)
        rows = [[i] for i in ids.numpy().tolist()]
    assert rows == reference_rows(names, TOKENS, hash_key=given)
    default = reference_rows(names, TOKENS)
    assert (rows == default) is (given == 0)

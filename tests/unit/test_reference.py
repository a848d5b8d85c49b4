"""The pure-Python reference agrees with TensorFlow on edge values.

Against `tf.sparse.cross_hashed` and `tf.strings.to_hash_bucket_fast`. The
pipeline's own output is compared with this reference, row by row, in
test_parity.py.
"""

from __future__ import annotations

import pytest
import tensorflow as tf

from tests.farmhash_reference import (
    DEFAULT_HASH_KEY,
    cross_hash,
    cross_row,
    fingerprint64,
    hash_bucket,
)
from tests.support import EDGE_INTS, EDGE_STRINGS

NUM_BINS = [2, 5000, 2**40, 0]


def tf_cross(values: list, num_bins: int, hash_key: int | None = None) -> int:
    """`tf.sparse.cross_hashed` of one row holding one value per input."""
    inputs = [tf.constant([[v]], tf.int64 if isinstance(v, int) else tf.string) for v in values]
    return int(tf.sparse.cross_hashed(inputs, num_buckets=num_bins, hash_key=hash_key).values[0])


CROSS_CASES = (
    [pytest.param([s, i], id=f"str{a}-int{b}") for a, s in enumerate(EDGE_STRINGS)
     for b, i in enumerate(EDGE_INTS)]
    + [pytest.param([s, t], id=f"str{a}-str{b}") for a, s in enumerate(EDGE_STRINGS)
       for b, t in enumerate(EDGE_STRINGS[::-1])]
    + [pytest.param([-1, "東京", 2**63 - 1], id="three_inputs"),
       pytest.param([-2**63, -1], id="int-int")]
)


@pytest.mark.parametrize("values", CROSS_CASES)
def test_cross_hash_matches_tf(values):
    for num_bins in NUM_BINS:
        assert cross_hash(values, num_bins) == tf_cross(values, num_bins), num_bins


@pytest.mark.parametrize("hash_key", [0, 1, 12345, DEFAULT_HASH_KEY, 2**63 - 1, -1, -2**63])
def test_cross_hash_key_matches_tf(hash_key):
    values = ["café", -2**63]
    assert cross_hash(values, 2**40, hash_key=hash_key) == tf_cross(values, 2**40, hash_key)


@pytest.mark.parametrize("unsigned", [2**63, 2**64 - 1])
def test_unsigned_hash_key_is_its_int64_bits(unsigned):
    """TF's Python API refuses keys from 2**63 up; the same 64 bits as an int64 work."""
    values = ["café", -2**63]
    with pytest.raises((OverflowError, ValueError)):
        tf_cross(values, 2**40, unsigned)
    assert cross_hash(values, 2**40, hash_key=unsigned) == tf_cross(values, 2**40,
                                                                   unsigned - 2**64)


def test_hash_key_zero_is_tf_default_key():
    """TF replaces a falsy key by its default, so `hash_key: 0` is the default."""
    values = ["café", -2**63]
    assert tf_cross(values, 2**40, 0) == tf_cross(values, 2**40, DEFAULT_HASH_KEY)


def test_cross_hash_is_not_commutative():
    assert cross_hash(["a", "b"], 0) != cross_hash(["b", "a"], 0)


@pytest.mark.parametrize("value", EDGE_STRINGS + EDGE_INTS)
def test_hash_bucket_matches_to_hash_bucket_fast(value):
    text = tf.strings.as_string(tf.constant([value], tf.int64)) if isinstance(value, int) \
        else tf.constant([value])
    for num_bins in (2, 5000, 2**40, 2**63 - 1):
        assert hash_bucket(value, num_bins) == int(
            tf.strings.to_hash_bucket_fast(text, num_bins)[0])


@pytest.mark.parametrize("text", EDGE_STRINGS)
def test_fingerprint_is_of_utf8_bytes(text):
    assert fingerprint64(text) == fingerprint64(text.encode("utf-8"))
    unreduced = int(tf.strings.to_hash_bucket_fast([text], 2**63 - 1)[0])
    assert fingerprint64(text) % (2**63 - 1) == unreduced


@pytest.mark.parametrize("rows", [
    pytest.param([[], "DL"], id="empty_sequence"),
    pytest.param([["a"], "DL"], id="one_element"),
    pytest.param([["a", "東京", "", "a", "😀"], -1], id="many_elements"),
    pytest.param([["x", "y"], 7, [3, -2**63, 5]], id="two_sequences"),
    pytest.param([5, ["x", "y"], "DL"], id="scalar_first"),
])
def test_cross_row_matches_tf_on_sequences(rows):
    """Against TF with every input sparse, so the kernel keeps the given order."""
    inputs = [tf.ragged.constant([v if isinstance(v, list) else [v]], _dtype(v)).to_sparse()
              for v in rows]
    expected = tf.sparse.cross_hashed(inputs, num_buckets=5000).values.numpy().tolist()
    assert cross_row(rows, 5000) == expected


def _dtype(value) -> tf.DType:
    first = value[0] if isinstance(value, list) and value else value
    return tf.int64 if isinstance(first, int) and not isinstance(first, list) else tf.string

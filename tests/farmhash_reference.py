"""A pure-Python reference for the hashed crosses and hashes (docs/config.md "What each transform
means").

Written from the public definitions, not from TensorFlow: a string is hashed
with FarmHash Fingerprint64 of its UTF-8 bytes (`farmhash.fingerprint64` from
pyfarmhash), an int64 enters as its raw 64 bits (two's complement), and the
per-input hashes are folded left to right with FingerprintCat64 (the one in
`tensorflow/core/platform/fingerprint.h`) starting from the hash key. The
result is taken modulo the number of bins.

Salted hashing (`to_hash_bucket_strong`, SipHash-2-4) has no reference here:
the tests compare it with Keras `Hashing(salt=...)` directly.
"""

from __future__ import annotations

import itertools
from typing import Sequence, Union

import farmhash

DEFAULT_HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's key when none is given
UINT64_MASK = (1 << 64) - 1
INT64_MAX = (1 << 63) - 1
_K_MUL = 0xC6A4A7935BD1E995  # FingerprintCat64's multiplier

Value = Union[str, bytes, int]


def fingerprint64(value: Union[str, bytes]) -> int:
    """FarmHash Fingerprint64 of the UTF-8 bytes, as an unsigned 64-bit int."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return farmhash.fingerprint64(value)


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """Combines two 64-bit fingerprints; not commutative.

    All arithmetic is modulo 2**64, as with C++ `uint64`.
    """
    result = fp1 ^ _K_MUL
    result ^= (_shift_mix((fp2 * _K_MUL) & UINT64_MASK) * _K_MUL) & UINT64_MASK
    result = (result * _K_MUL) & UINT64_MASK
    result = (_shift_mix(result) * _K_MUL) & UINT64_MASK
    return _shift_mix(result)


def feature_hash(value: Value) -> int:
    """One input's 64-bit contribution: Fingerprint64 of a string, raw bits of an int."""
    if isinstance(value, (str, bytes)):
        return fingerprint64(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"cross inputs are strings or ints. Received: value={value!r}")
    if not -(1 << 63) <= value <= INT64_MAX:
        raise ValueError(f"an int input must fit in int64. Received: value={value!r}")
    return value & UINT64_MASK


def cross_hash(values: Sequence[Value], num_bins: int, *,
               hash_key: int = DEFAULT_HASH_KEY) -> int:
    """The bin of one combination of input values (one value per input).

    `num_bins=0` gives the unreduced hash as `tf.sparse.cross_hashed` does:
    modulo the largest int64, so it stays non-negative. Like TF's Python
    wrapper (`hash_key or default`), a key of 0 means the default key; the
    key is used as 64 bits, so -1 and 2**64 - 1 are the same key.
    """
    hashed = (hash_key or DEFAULT_HASH_KEY) & UINT64_MASK
    for value in values:
        hashed = fingerprint_cat64(hashed, feature_hash(value))
    return hashed % (num_bins if num_bins > 0 else INT64_MAX)


def cross_row(inputs: Sequence[Union[Value, list]], num_bins: int, *,
              hash_key: int = DEFAULT_HASH_KEY) -> list[int]:
    """All ids of one row; an input given as a list is a sequence input.

    Inputs are hashed in the given order (a scalar is a one-value sequence);
    the ids are the Cartesian product with the last input varying fastest.
    An empty sequence gives no ids.
    """
    lists = [v if isinstance(v, list) else [v] for v in inputs]
    return [cross_hash(combination, num_bins, hash_key=hash_key)
            for combination in itertools.product(*lists)]


def hash_bucket(value: Value, num_bins: int) -> int:
    """`to_hash_bucket_fast(as_string(value))`: Keras `Hashing` without a salt."""
    text = value if isinstance(value, (str, bytes)) else str(value)
    return fingerprint64(text) % num_bins

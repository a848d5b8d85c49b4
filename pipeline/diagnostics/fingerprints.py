"""The distinct raw combinations of hashed features: TF's 64-bit fingerprints.

A hashed feature's id is a 64-bit fingerprint of its raw value (or
combination) modulo `num_bins`. Counting distinct fingerprints (not bins)
tells how many raw values or combinations there were, how many the modulo
put together (the collision report) and whether today's occurred at
analysis time (drift). This is the one module that computes them, with
NumPy over whole Arrow batches; the ids are TF's own (docs/outputs.md "Collision
report"):

- a cross: FarmHash Fingerprint64 per string, int64 values as their 64 bits,
  folded with FingerprintCat64 from the 64 bits of the applied `hash_key`, in
  the order the config lists the inputs, one per element of the Cartesian
  product, in TF's order (the last input varies fastest). `fingerprint %
  num_bins` (uint64) is the id `tf.sparse.cross_hashed` gives; `num_buckets=0`
  would not do, since TF then returns the fingerprint modulo 2**63 - 1.
- a hash: Fingerprint64 of the string form; `% num_bins` is
  `to_hash_bucket_fast`. A salted hash's bins come from TF's own op.

Strings are fingerprinted once per distinct value of a batch, or once per
job with a `FingerprintMemo`. `BatchCombinations`
sums one batch into (keys, their bin, their rows) per feature, the keys
distinct where that is cheap; `pipeline.diagnostics.collisions` groups and
merges them across the job.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import farmhash
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Config, Feature

_MUL = np.uint64(0xC6A4A7935BD1E995)  # FingerprintCat64's multiplier
_SHIFT = np.uint64(47)


def fingerprint_cat64(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """TF's FingerprintCat64 (tensorflow/core/platform/fingerprint.h), elementwise."""
    with np.errstate(over="ignore"):
        mixed = second * _MUL
        result = first ^ _MUL
        result ^= (mixed ^ (mixed >> _SHIFT)) * _MUL
        result *= _MUL
        result = (result ^ (result >> _SHIFT)) * _MUL
        return result ^ (result >> _SHIFT)


def dictionary_encode(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(each element's index among the distinct values, those values, in order of
    first appearance)."""
    encoded = pc.dictionary_encode(values)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def dictionary_fingerprints(dictionary: list) -> np.ndarray:
    return np.fromiter((farmhash.fingerprint64(v) for v in dictionary), np.uint64,
                       len(dictionary))


class FingerprintMemo:
    """Fingerprint64 of one column's distinct strings, remembered across batches.

    Most values recur batch after batch (carriers, airports, tail numbers):
    Arrow finds them among those already hashed (in C++), and only new ones
    become Python bytes for FarmHash. At most `limit` values are kept; a
    column whose batches are mostly new values once it is full stops looking.
    """

    def __init__(self, limit: int = 1 << 16) -> None:
        self.limit = limit
        self.known: pa.Array | None = None
        self.prints = np.zeros(0, dtype=np.uint64)
        self.looking = True

    def __call__(self, distinct: pa.Array) -> np.ndarray:
        if not self.looking:
            return dictionary_fingerprints(distinct.to_pylist())
        if self.known is None or self.known.type != distinct.type:
            self.known, self.prints = distinct.slice(0, 0), np.zeros(0, dtype=np.uint64)
        positions = pc.index_in(distinct, value_set=self.known)
        found = positions.is_valid().to_numpy(zero_copy_only=False)
        result = np.empty(len(distinct), dtype=np.uint64)
        result[found] = self.prints[positions.drop_null().to_numpy()]
        new = distinct.filter(pa.array(~found))
        result[~found] = dictionary_fingerprints(new.to_pylist())
        if len(self.known) + len(new) <= self.limit:
            self.known = pa.concat_arrays([self.known, new])
            self.prints = np.concatenate([self.prints, result[~found]])
        elif 2 * len(new) > len(distinct):
            self.looking = False
        return result


class ListColumn:
    """A TFXIO list column as flat values, per-row lengths and starts.

    Fingerprints are computed once per batch however many features use the column.
    """

    def __init__(self, column: pa.Array, memo: FingerprintMemo | None = None) -> None:
        offsets = column.offsets.to_numpy()
        self.starts = offsets[:-1] - offsets[0]
        self.lengths = np.diff(offsets)
        self.values = column.flatten()
        self.is_scalar = bool(np.all(self.lengths == 1))
        self._prints: np.ndarray | None = None
        self.memo = memo
        self._string_form: tuple[np.ndarray, pa.Array] | None = None
        self._dictionary_prints: np.ndarray | None = None
        self._codes: tuple[np.ndarray, np.ndarray] | None = None
        self._encoding: tuple[np.ndarray, pa.Array] | None = None

    @property
    def fingerprints(self) -> np.ndarray:
        """What a cross hashes: Fingerprint64 of strings, the 64 bits of ints."""
        if self._prints is None:
            if pa.types.is_integer(self.values.type):
                self._prints = (self.values.to_numpy(zero_copy_only=False)
                                .astype(np.int64).view(np.uint64))
            else:
                self._prints = self.dictionary_fingerprints[self.string_form[0]]
        return self._prints

    @property
    def dictionary_fingerprints(self) -> np.ndarray:
        """Fingerprint64 of each distinct string form (`string_form`'s dictionary)."""
        if self._dictionary_prints is None:
            distinct = self.string_form[1]
            self._dictionary_prints = (self.memo(distinct) if self.memo is not None
                                       else dictionary_fingerprints(distinct.to_pylist()))
        return self._dictionary_prints

    @property
    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(each value's index among the batch's distinct values, their cross hashes)."""
        if self._codes is None:
            indices, distinct = self.encoding
            if pa.types.is_integer(self.values.type):
                self._codes = (indices, distinct.to_numpy(zero_copy_only=False)
                               .astype(np.int64).view(np.uint64))
            else:
                self._codes = (indices, self.dictionary_fingerprints)
        return self._codes

    @property
    def encoding(self) -> tuple[np.ndarray, pa.Array]:
        """(each value's index among the batch's distinct values, those values), the
        values in order of first appearance."""
        if self._encoding is None:
            self._encoding = dictionary_encode(self.values)
        return self._encoding

    def value_counts(self) -> tuple[pa.Array, np.ndarray]:
        """(distinct values in order of first appearance, how often each occurs)."""
        indices, distinct = self.encoding
        return distinct, np.bincount(indices, minlength=len(distinct)).astype(np.int64)

    @property
    def string_form(self) -> tuple[np.ndarray, pa.Array]:
        """The dictionary encoding of `tf.strings.as_string(values)`."""
        if self._string_form is None:
            if pa.types.is_integer(self.values.type):
                self._string_form = dictionary_encode(pc.cast(self.values, pa.large_string()))
            else:
                self._string_form = self.encoding
        return self._string_form


class BatchColumns:
    """The `ListColumn`s of one batch, raw columns first, built once however many
    counts read them (docs/outputs.md "Collision report", docs/running.md "Drift against the frozen
    analysis")."""

    def __init__(self, raw: pa.RecordBatch, transformed: pa.RecordBatch,
                 memos: dict[str, FingerprintMemo] | None = None) -> None:
        self.raw = raw
        self.transformed = transformed
        self.columns: dict[str, ListColumn] = {}
        self.memos = memos  # by column name, kept by the caller across batches

    def __getitem__(self, name: str) -> ListColumn:
        if name not in self.columns:
            source = self.raw if name in self.raw.schema.names else self.transformed
            memo = None if self.memos is None else self.memos.setdefault(name, FingerprintMemo())
            self.columns[name] = ListColumn(source.column(name), memo)
        return self.columns[name]


def cross_fingerprints(columns: Sequence[ListColumn], hash_key: int) -> np.ndarray:
    """The fingerprint of every id `tf.sparse.cross_hashed` gives, in its order.

    `columns` in the config's order; `hash_key` the int64 TF gets (its 64 bits count).
    """
    hash_key &= (1 << 64) - 1
    rows = len(columns[0].lengths)
    if all(c.is_scalar for c in columns):
        result = np.full(rows, hash_key, dtype=np.uint64)
        for column in columns:
            result = fingerprint_cat64(result, column.fingerprints)
        return result
    counts = np.ones(rows, dtype=np.int64)
    for column in columns:
        counts = counts * column.lengths
    row_of = np.repeat(np.arange(rows), counts)
    position = np.arange(len(row_of)) - np.repeat(np.cumsum(counts) - counts, counts)
    result = np.full(len(row_of), hash_key, dtype=np.uint64)
    stride = np.ones(len(row_of), dtype=np.int64)
    picks = []
    for column in reversed(columns):  # the last input varies fastest
        length = column.lengths[row_of]
        picks.append(column.starts[row_of] + (position // stride) % np.maximum(length, 1))
        stride = stride * length
    for column, pick in zip(columns, reversed(picks)):
        result = fingerprint_cat64(result, column.fingerprints[pick])
    return result


def scalar_cross_keys(columns: Sequence[ListColumn], hash_key: int
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """(fingerprints, rows of each) of an all-scalar cross, from value codes.

    When the combinations can be counted by index (their product space is
    small next to the rows), the keys are distinct and only they are hashed:
    per row it is a few integer operations. Otherwise every row's key comes
    back with 1 row: grouping them here would cost a hash-table pass per row,
    which the feature's accumulator does anyway (or skips, once it samples).
    None when the inputs are not all scalar.
    """
    if not all(c.is_scalar for c in columns):
        return None
    rows = len(columns[0].lengths)
    size = math.prod(max(len(column.codes[1]), 1) for column in columns)
    if size > 4 * rows + 1024:
        return cross_fingerprints(columns, hash_key), np.ones(rows, np.int64)
    combined = np.zeros(rows, dtype=np.int64)
    for column in columns:
        indices, distinct = column.codes
        combined = combined * len(distinct) + indices
    counts = np.bincount(combined, minlength=size)
    present = np.flatnonzero(counts)
    counts = counts[present]
    keys = np.full(len(present), hash_key & (2**64 - 1), dtype=np.uint64)
    picks, rest = [], present
    for column in reversed(columns):
        count = len(column.codes[1])
        picks.append(rest % count)
        rest = rest // count
    for column, pick in zip(columns, reversed(picks)):
        keys = fingerprint_cat64(keys, column.codes[1][pick])
    return keys, counts.astype(np.int64)


def hashed_features(config: Config) -> list[Feature]:
    """The features whose ids are a fingerprint modulo num_bins.

    Vocabulary crosses are not: their ids are exact, and the manifest's
    vocabulary coverage says how many rows fell outside the vocabulary.
    """
    return [f for f in config.features
            if f.kind in ("cross", "hash") and f.vocabulary is None]


def group_keys(keys: np.ndarray, bins: np.ndarray,
               rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct keys, their bin, their row count) from per-occurrence arrays."""
    codes, uniques = pd.factorize(keys, sort=False)
    counts = (np.bincount(codes, minlength=len(uniques)) if rows is None
              else np.bincount(codes, weights=rows, minlength=len(uniques)).astype(np.int64))
    key_bins = np.empty(len(uniques), dtype=np.uint64)
    key_bins[codes] = bins
    return np.asarray(uniques, dtype=np.uint64), key_bins, counts.astype(np.int64)


class BatchCombinations:
    """Keys, bins, row counts and num_bins of each hashed feature in a batch.

    `num_bins` gives every hashed feature's bin count (resolved when auto).
    """

    def __init__(self, config: Config, num_bins: Mapping[str, int]) -> None:
        self.features = hashed_features(config)
        self.num_bins = dict(num_bins)
        self.salted: dict[str, dict] = {}  # salted hash: value -> bin, across batches

    def __call__(self, column: BatchColumns) -> dict[str, tuple[np.ndarray, ...]]:
        """`column`: the batch's raw and transformed columns (shared with other counts)."""
        summary = {}
        for feature in self.features:
            m = np.uint64(self.num_bins[feature.name])
            if feature.kind == "cross":
                inputs = [column[n] for n in feature.inputs]
                grouped = scalar_cross_keys(inputs, feature.applied_hash_key)
                if grouped is not None:
                    keys, rows = grouped
                    summary[feature.name] = (keys, keys % m, rows, int(m))
                    continue
                keys = cross_fingerprints(inputs, feature.applied_hash_key)
                summary[feature.name] = (*group_keys(keys, keys % m), int(m))
                continue
            # A hash: its distinct values are the batch's dictionary.
            source = column[feature.inputs[0]]
            indices, dictionary = source.string_form
            keys = source.dictionary_fingerprints
            rows = np.bincount(indices, minlength=len(dictionary)).astype(np.int64)
            bins = (keys % m if feature.salt is None
                    else self._salted_bins(feature, dictionary.to_pylist()))
            present = rows > 0
            summary[feature.name] = (keys[present], bins[present], rows[present], int(m))
        return summary

    def _salted_bins(self, feature: Feature, dictionary: list) -> np.ndarray:
        """Keras `Hashing(salt=...)` bins, from TF's own op, once per distinct value."""
        cache = self.salted.setdefault(feature.name, {})
        unseen = [value for value in dictionary if value not in cache]
        if unseen:
            import tensorflow as tf
            bins = tf.strings.to_hash_bucket_strong(
                tf.constant(unseen, tf.string), self.num_bins[feature.name],
                key=list(feature.salt)).numpy()
            cache.update(zip(unseen, bins.tolist()))
        return np.array([cache[value] for value in dictionary], dtype=np.uint64)

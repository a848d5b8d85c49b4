"""Distinct raw combinations of the hashed features, with their bins and rows.

A hashed feature's id is a 64-bit fingerprint of its raw value (or
combination) modulo `num_bins`. Drift needs that fingerprint: whether
today's combination occurred at analysis time, and how many distinct
combinations share a bin (the collision rate). Keys here are TF's own
fingerprints: FarmHash Fingerprint64 of each string, an int's 64 bits, folded
with FingerprintCat64 from `hash_key` in the config's order (README, "A
config"), so `key % num_bins` is the id the graph wrote; a hash feature's key
is Fingerprint64 of the value's string form. Bins are read from the
transformed batch itself. Features over sequence inputs are left out (one
row holds many combinations). This is the one module that counts
combinations; README "Drift against the frozen analysis" states its limit.
"""

from __future__ import annotations

import farmhash
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Config, Feature
from pipeline.outputs import sparse_keys

EXACT_LIMIT = 1_000_000  # distinct combinations per feature kept exactly (8 bytes each)
_MUL = np.uint64(0xC6A4A7935BD1E995)
_SHIFT = np.uint64(47)


def fingerprint_cat64(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """TF's FingerprintCat64, elementwise on uint64 arrays."""
    with np.errstate(over="ignore"):
        mixed = second * _MUL
        result = first ^ _MUL
        result ^= (mixed ^ (mixed >> _SHIFT)) * _MUL
        result *= _MUL
        result = (result ^ (result >> _SHIFT)) * _MUL
        return result ^ (result >> _SHIFT)


def _string_fingerprints(values: pa.Array) -> np.ndarray:
    encoded = pc.dictionary_encode(values)
    prints = np.fromiter((farmhash.fingerprint64(v) for v in encoded.dictionary.to_pylist()),
                         np.uint64, len(encoded.dictionary))
    return prints[encoded.indices.to_numpy(zero_copy_only=False)]


def _values(column: pa.Array) -> pa.Array:
    return pc.list_flatten(column)


def counted_features(config: Config) -> list[Feature]:
    """Hashed features over scalar inputs: one combination per row.

    Vocabulary crosses are left out: their ids are not fingerprints, and the
    manifest's vocabulary coverage already says how many rows fell outside.
    """
    sequence = {name: c.is_sequence for name, c in config.schema.items()}
    sequence.update({f.name: f.is_sequence for f in config.features})
    return [f for f in config.features
            if f.kind in ("cross", "hash") and f.vocabulary is None
            and not any(sequence[n] for n in f.inputs)]


def bins_of(feature: Feature, transformed: pa.RecordBatch) -> np.ndarray:
    """The id each row got, read back from the feature's stored form."""
    if feature.output == "int":
        return _values(transformed.column(feature.name)).to_numpy(zero_copy_only=False)
    if feature.sparse:
        index_key, _ = sparse_keys(feature.name)
        return _values(transformed.column(index_key)).to_numpy(zero_copy_only=False)
    dense = _values(transformed.column(feature.name)).to_numpy(zero_copy_only=False)
    return dense.reshape(transformed.num_rows, -1).argmax(axis=1)


class BatchCombinations:
    """(distinct keys, their bin, their rows) per counted feature of one batch."""

    def __init__(self, config: Config) -> None:
        self.features = counted_features(config)
        self.schema = config.schema

    def keys_of(self, feature: Feature, raw: pa.RecordBatch,
                transformed: pa.RecordBatch) -> np.ndarray:
        def column_prints(name: str) -> np.ndarray:
            source = raw if name in self.schema else transformed
            values = _values(source.column(name))
            if pa.types.is_integer(values.type):
                if feature.kind == "hash":
                    return _string_fingerprints(pc.cast(values, pa.large_string()))
                return values.to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64)
            return _string_fingerprints(values)

        if feature.kind == "hash":
            return column_prints(feature.inputs[0])
        keys = np.full(raw.num_rows, np.uint64(feature.applied_hash_key % 2 ** 64),
                       dtype=np.uint64)
        for name in feature.inputs:
            keys = fingerprint_cat64(keys, column_prints(name))
        return keys

    def __call__(self, raw: pa.RecordBatch, transformed: pa.RecordBatch) -> dict:
        return {f.name: group(self.keys_of(f, raw, transformed),
                              bins_of(f, transformed).astype(np.uint64))
                for f in self.features}


def group(keys: np.ndarray, bins: np.ndarray,
          rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted distinct keys, their bin, their rows) from per-value arrays."""
    uniques, codes = np.unique(keys, return_inverse=True)
    counts = np.bincount(codes, weights=rows, minlength=len(uniques)).astype(np.int64)
    key_bins = np.empty(len(uniques), dtype=np.uint64)
    key_bins[codes] = bins
    return uniques.astype(np.uint64), key_bins, counts


def merge(first: tuple | None, second: tuple | None) -> tuple | None:
    """Two groupings of one feature merged; None once past EXACT_LIMIT distinct keys."""
    if first is None or second is None:
        return None
    merged = group(np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]),
                   np.concatenate([first[2], second[2]]))
    return merged if len(merged[0]) <= EXACT_LIMIT else None


def figures(grouped: tuple | None) -> dict:
    """Distinct keys, bins used, collision rate, rows per bin of one merged feature."""
    if grouped is None:
        return {"exact": False}
    keys, bins, rows = grouped
    distinct_bins, key_count = np.unique(bins, return_counts=True)
    _, bin_rows = np.unique(bins, return_inverse=True)
    rows_per_bin = np.bincount(bin_rows, weights=rows).astype(np.int64)
    colliding = int(key_count[key_count > 1].sum())
    return {"exact": True, "distinct": len(keys), "bins_used": len(distinct_bins),
            "collision_rate": colliding / len(keys) if len(keys) else 0.0,
            "rows": int(rows.sum()), "keys": keys, "key_rows": rows,
            "bin_rows": dict(zip(distinct_bins.tolist(), rows_per_bin.tolist()))}

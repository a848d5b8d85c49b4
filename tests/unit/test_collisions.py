"""The collision counts' building blocks, without a job (docs/outputs.md "Collision report").

The NumPy fingerprints behind the counts must be TF's own; the exact and
sketched accumulators must merge; the expected rate and the smallest round
num_bins must hold on random keys. The report of a run, against brute-force
counts of its output, is tests/jobs/test_collisions_job.py's.
"""

from __future__ import annotations

import collections

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from pipeline.config import Feature
from pipeline.diagnostics.collisions import (
    KeyCounts,
    expected_collision_rate,
    round_sizes,
    smallest_round_num_bins,
)
from pipeline.diagnostics.fingerprints import (
    BatchColumns,
    FingerprintMemo,
    ListColumn,
    cross_fingerprints,
    group_keys,
    scalar_cross_keys,
)
from pipeline.transform.features import cross_ids

# --- the fingerprints are TF's ---------------------------------------------

def _list_column(cells: list[list], value_type: pa.DataType) -> pa.LargeListArray:
    return pa.array(cells, pa.large_list(value_type))


def _tensor(cells: list[list], dtype, sequence: bool):
    if not sequence:
        return tf.constant([c[0] for c in cells], dtype)
    return tf.ragged.constant(cells, dtype).to_sparse()


@pytest.mark.parametrize("hash_key", [12345, -1, 2**63 + 5], ids=["key", "minus-one", "high-bit"])
@pytest.mark.parametrize("num_bins", [1000, 2**62 + 7, 2**63 - 25])
def test_cross_fingerprints_modulo_num_bins_are_tfs_ids(num_bins, hash_key):
    rng = np.random.default_rng(7)
    words = ["", "東京", "café", "a", "b b", "😀"]
    rows = 200
    city = [[words[i]] for i in rng.integers(0, len(words), rows)]
    code = [[int(v)] for v in rng.choice([-2**63, -1, 0, 1, 2**63 - 1, 42], rows)]
    tags = [[words[i] for i in rng.integers(0, len(words), n)] for n in rng.integers(0, 4, rows)]
    applied = Feature("x", "cross", ("city", "tags", "code"), hash_key=hash_key).applied_hash_key
    ids = cross_ids([_tensor(city, tf.string, False), _tensor(tags, tf.string, True),
                     _tensor(code, tf.int64, False)], num_bins=num_bins, hash_key=applied)
    ids = ids.values.numpy()
    prints = cross_fingerprints([ListColumn(_list_column(city, pa.large_string())),
                                 ListColumn(_list_column(tags, pa.large_string())),
                                 ListColumn(_list_column(code, pa.int64()))], applied)
    assert len(ids) == sum(len(t) for t in tags)
    np.testing.assert_array_equal((prints % np.uint64(num_bins)).astype(np.int64), ids)


@pytest.mark.parametrize("cardinality", [5, 400], ids=["counted-by-index", "per-row"])
def test_scalar_cross_keys_sum_to_tfs_ids_per_row(cardinality):
    # A product space small next to the rows gives distinct keys; a large one
    # every row's key with 1 row. Either way the rows per id are TF's.
    rng = np.random.default_rng(cardinality)
    rows, num_bins = 3000, 2**61 - 1
    words = [f"w{i}" for i in range(cardinality)]
    city = [[words[i]] for i in rng.integers(0, cardinality, rows)]
    code = [[int(v)] for v in rng.integers(-cardinality, cardinality, rows)]
    applied = Feature("x", "cross", ("city", "code"), hash_key=3).applied_hash_key
    ids = cross_ids([_tensor(city, tf.string, False), _tensor(code, tf.int64, False)],
                    num_bins=num_bins, hash_key=applied)
    ids = (ids.values if isinstance(ids, tf.SparseTensor) else ids).numpy().reshape(-1)
    keys, key_rows = scalar_cross_keys([ListColumn(_list_column(city, pa.large_string())),
                                        ListColumn(_list_column(code, pa.int64()))], applied)
    assert (len(keys) == rows) == (cardinality == 400)
    from_keys = collections.Counter()
    for key, count in zip((keys % np.uint64(num_bins)).tolist(), key_rows.tolist()):
        from_keys[key] += count
    assert from_keys == collections.Counter(ids.tolist())


@pytest.mark.parametrize("limit", [4, 1 << 16], ids=["full-so-stops", "room"])
def test_fingerprint_memo_across_batches_gives_tfs_hashes(limit):
    """Remembered, new and (once full) unremembered values all hash as TF does,
    for strings and for the string form of ints."""
    num_bins = 2**62 + 7
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(6)] + ["", "東京", "😀"]
    memos = {"s": FingerprintMemo(limit), "n": FingerprintMemo(limit)}
    seen: set[str] = set()
    for batch in range(6):
        fresh = [f"new{batch}-{i}" for i in range(10)] if batch >= 3 else []
        strings = [[str(v)] for v in rng.choice(words + fresh, 40)]
        seen.update(c[0] for c in strings)
        ints = [[int(v)] for v in rng.choice([-2**63, -1, 0, 7, 2**63 - 1, batch * 100], 40)]
        raw = pa.RecordBatch.from_pydict({"s": _list_column(strings, pa.large_string()),
                                          "n": _list_column(ints, pa.int64())})
        columns = BatchColumns(raw, raw, memos)
        for name, cells in (("s", strings), ("n", ints)):
            column = columns[name]
            indices, _ = column.string_form
            bins = (column.dictionary_fingerprints[indices] % np.uint64(num_bins)).astype(np.int64)
            expected = tf.strings.to_hash_bucket_fast(
                tf.strings.as_string([c[0] for c in cells]) if name == "n"
                else [c[0] for c in cells], num_bins).numpy()
            np.testing.assert_array_equal(bins, expected, err_msg=f"{name} batch {batch}")
        assert len(memos["s"].known) <= limit
    # the first batch's 9 distinct strings are all new and overflow 4: it stops looking
    assert memos["s"].looking == (limit > 4)
    assert limit == 4 or sorted(memos["s"].known.to_pylist()) == sorted(seen)


# --- the counting math ------------------------------------------------------

def test_exact_and_sketched_accumulators_merge():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**63, 30_000, dtype=np.uint64)
    parts = []
    for chunk, limit in ((keys[:5_000], 10**6), (keys[5_000:], 10_000)):
        counts = KeyCounts(4096, exact_limit=limit)
        counts.add(*group_keys(chunk, chunk % np.uint64(4096)))
        counts.compact()
        parts.append(counts)
    assert parts[0].exact and not parts[1].exact
    parts[0].merge(parts[1])
    figures = parts[0].figures()
    low, high = figures["distinct_bounds"]
    assert low <= 30_000 <= high
    assert figures["rows"] == 30_000


def _uncompacted(keys: np.ndarray, limit: int) -> KeyCounts:
    """Counts holding `keys` as pending batches, never grouped yet (fewer than 2**16)."""
    counts = KeyCounts(4096, exact_limit=limit)
    for chunk in np.array_split(keys, 4):
        counts.add(*group_keys(chunk, chunk % np.uint64(4096)))
    assert counts.pending and not counts.sampled
    return counts


def _compacted(keys: np.ndarray, limit: int) -> KeyCounts:
    counts = KeyCounts(4096, exact_limit=limit)
    counts.add(*group_keys(keys, keys % np.uint64(4096)))
    counts.compact()
    return counts


@pytest.mark.parametrize("pending", ["other", "this"])
def test_a_merge_over_the_limit_once_pending_keys_are_grouped_loses_no_keys(pending):
    """A merge groups pending keys first, which may switch either side to samples;
    neither side's keys may be lost then (they were: the other's, dropped with its
    emptied exact keys, or this one's, when its samples were started twice)."""
    rng = np.random.default_rng(13)
    keys = np.unique(rng.integers(0, 2**63, 24_000, dtype=np.uint64))
    first, second = keys[:12_000], keys[12_000:]  # each over a 4,096 limit once grouped
    if pending == "other":  # an exact accumulator absorbs one that only grouping samples
        this, other = _compacted(first[:1_000], 4096), _uncompacted(second, 4096)
        keys = np.concatenate([first[:1_000], second])
    else:  # one that only grouping samples absorbs a sampled one
        this, other = _uncompacted(first, 4096), _compacted(second, 4096)
        assert other.sampled
    this.merge(other)
    assert this.sampled
    assert this.distinct() == _compacted(keys, 4096).distinct()
    figures = this.figures()
    assert figures["rows"] == len(keys)
    low, high = figures["distinct_bounds"]
    assert low <= len(keys) <= high


def test_expected_rate_matches_a_simulated_random_hash():
    rng = np.random.default_rng(11)
    keys = rng.integers(0, 2**64, 5_000, dtype=np.uint64)
    counts = KeyCounts(8192)
    counts.add(*group_keys(keys, keys % np.uint64(8192)))
    figures = counts.figures()
    assert figures["collision_rate"] == pytest.approx(expected_collision_rate(5_000, 8192),
                                                      abs=0.02)


def test_smallest_round_num_bins_meets_the_target_and_the_next_smaller_does_not():
    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(0, 2**64, 3_000, dtype=np.uint64))
    for target in (0.01, 0.05, 0.2):
        size = smallest_round_num_bins(keys, target)
        per_bin = np.unique(keys % np.uint64(size), return_counts=True)[1]
        assert per_bin[per_bin > 1].sum() <= target * len(keys)
        assert size & (size - 1) == 0 or str(size).rstrip("0") in ("1", "2", "5")
        previous = max(s for s in round_sizes() if s < size)
        per_bin = np.unique(keys % np.uint64(previous), return_counts=True)[1]
        assert per_bin[per_bin > 1].sum() > target * len(keys), (target, previous)

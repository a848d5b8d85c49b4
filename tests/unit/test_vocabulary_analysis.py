"""The packed vocabulary analyzer's pieces against brute-force counts.

The whole analyzer is checked byte for byte against tf.Transform in
tests/jobs/test_vocabulary.py, on one batch; here the many-batch paths: a
part's tables summed in any grouping, and the per-part then per-cross cut
(docs/config.md "Exact ids: vocabulary crosses": by descending count, ties
by descending bytes).
"""

from __future__ import annotations

import collections

import numpy as np
import pyarrow as pa
import pytest

from pipeline.config.model import Feature, Vocabulary
from pipeline.job.vocabulary_analysis import (
    PackedVocabularies,
    SumCounts,
    TopCounts,
    _part_tables,
)
from pipeline.transform.vocabularies import PARTS


def random_tables(seed: int, tables: int) -> list[pa.Table]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(tables):
        tokens = {f"t{int(v)}".encode() for v in rng.zipf(1.5, size=40) if v < 500}
        out.append(pa.table({"token": pa.array(sorted(tokens), pa.binary()),
                             "count": pa.array(rng.integers(1, 5, len(tokens)), pa.int64())}))
    return out


def brute_force(tables: list[pa.Table]) -> dict[bytes, int]:
    counts = collections.Counter()
    for table in tables:
        for token, count in zip(table["token"].to_pylist(), table["count"].to_pylist()):
            counts[token] += count
    return dict(counts)


def as_dict(table: pa.Table) -> dict[bytes, int]:
    return dict(zip(table["token"].to_pylist(), table["count"].to_pylist()))


@pytest.mark.parametrize("split", [1, 3, 7])
def test_a_parts_tables_sum_to_the_brute_force_count_in_any_grouping(split):
    tables = random_tables(split, 60)  # more than SumCounts.PENDING per accumulator
    combine = SumCounts()
    accumulators = []
    for group in np.array_split(np.arange(len(tables)), split):
        accumulator = combine.create_accumulator()
        for index in group:
            accumulator = combine.add_input(accumulator, tables[index])
        accumulators.append(accumulator)
    summed = combine.extract_output(combine.merge_accumulators(accumulators))
    assert as_dict(summed) == brute_force(tables)
    assert summed.num_rows == len(set(summed["token"].to_pylist()))


def test_nothing_counted_sums_to_an_empty_table():
    combine = SumCounts()
    assert combine.extract_output(combine.create_accumulator()).num_rows == 0


def test_batches_split_into_parts_by_key():
    keys = np.array([65, 3, 65, 0, 3], np.int64)
    tokens = np.array([b"a", b"b", b"c", b"d", b"e"], object)
    counts = np.array([1, 2, 3, 4, 5], np.int64)
    parts = {key: as_dict(table) for key, table in _part_tables((keys, tokens, counts))}
    assert parts == {0: {b"d": 4}, 3: {b"b": 2, b"e": 5}, 65: {b"a": 1, b"c": 3}}


@pytest.mark.parametrize("top_k,threshold", [(5, 0), (12, 3), (None, 2), (1000, 0)])
def test_cut_per_part_then_per_cross_equals_one_global_cut(top_k, threshold):
    """Each combination lives in one part, so the best top_k of each part hold
    the best top_k of the cross; ties (many equal counts here) by descending bytes."""
    feature = Feature(name="x", kind="cross", inputs=("a", "b"),
                      vocabulary=Vocabulary(top_k=top_k, frequency_threshold=threshold))
    analyzer = PackedVocabularies([feature], "x")
    tables = random_tables(11, 30)
    totals = brute_force(tables)
    rng = np.random.default_rng(5)
    parts = collections.defaultdict(list)
    for token in totals:
        parts[int(rng.integers(0, PARTS))].append(token)
    combine = TopCounts(analyzer.top_k)
    accumulator = combine.create_accumulator()
    for part, tokens in parts.items():
        table = pa.table({"token": pa.array(tokens, pa.binary()),
                          "count": pa.array([totals[t] for t in tokens], pa.int64())})
        cross, value = analyzer._kept_in_part(part, table)  # cross 0: part keys 0..PARTS-1
        assert cross == 0
        accumulator = combine.add_input(accumulator, value)
    kept = combine.extract_output(accumulator)
    want = sorted(((n, t) for t, n in totals.items() if n >= threshold), reverse=True)[:top_k]
    assert kept == want
    assert len(set(totals.values())) < len(totals)  # ties are exercised

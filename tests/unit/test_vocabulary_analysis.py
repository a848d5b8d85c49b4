"""The packed vocabulary analyzer's cut against a brute-force ranking.

The whole analyzer is checked byte for byte against tf.Transform in
tests/jobs/test_vocabulary.py, on one batch; here the cut over many inputs
and merged accumulators (docs/config.md "Exact ids: vocabulary crosses": by
descending count, ties by descending bytes, at most top_k).
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.job.vocabulary_analysis import TopCounts, _keyed_counts


@pytest.mark.parametrize("top_k", [1, 5, 40, None])
def test_top_counts_over_merged_accumulators_equal_one_sort(top_k):
    rng = np.random.default_rng(7)
    tokens = [f"t{i}".encode() for i in range(300)]
    counts = rng.integers(1, 6, len(tokens)).tolist()  # few values: many ties
    pairs = list(zip(counts, tokens))
    combine = TopCounts({3: top_k})
    accumulators = []
    for chunk in np.array_split(np.arange(len(pairs)), 7):
        accumulator = combine.create_accumulator()
        for index in chunk:
            accumulator = combine.add_input(accumulator, (3, pairs[index]))
        accumulators.append(accumulator)
    kept = combine.extract_output(combine.merge_accumulators(accumulators))
    assert kept == sorted(pairs, reverse=True)[:top_k]
    assert len({n for n, _ in kept}) < len(kept) or top_k == 1  # ties inside what is kept


def test_batch_counts_are_keyed_by_cross_and_combination():
    crosses = np.array([0, 0, 2], np.int64)
    tokens = np.array([b"a_X_b", b"c_X_d", b"a_X_b"], object)
    counts = np.array([3, 1, 2], np.int64)
    assert list(_keyed_counts((crosses, tokens, counts))) == [
        ((0, b"a_X_b"), 3), ((0, b"c_X_d"), 1), ((2, b"a_X_b"), 2)]

"""Per-column stats of one output batch (docs/outputs.md "Output"), without a pipeline.

The Beam steps, each on Beam's TestPipeline, are tests/jobs/test_steps_job.py's.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.diagnostics.stats import batch_stats


def test_batch_stats_count_empty_rows_and_skip_min_max_of_strings():
    batch = pa.RecordBatch.from_pydict({
        "ids": pa.array([[1, 2], [], [5]], pa.large_list(pa.int64())),
        "text": pa.array([[b"x"], [b"y"], []], pa.large_list(pa.large_binary()))})
    stats = batch_stats(batch)
    assert stats["ids"] == {"rows": 3, "empty_rows": 1, "values": 3, "min": 1, "max": 5,
                            "sum": 8.0}
    assert stats["text"] == {"rows": 3, "empty_rows": 1, "values": 2}

"""The parity sample every run takes of itself before it publishes.

The run serves its first N valid input rows through its own freshly exported
`serving/` model in a fresh process and compares the results with its own
batch output, exactly as `featurecross verify` does (`pipeline.serving.verify`). A
mismatch means training and serving would disagree, so the run fails and
publishes nothing (README "Exit codes"). The fresh process is started with
the run, so its TensorFlow import overlaps the pipeline instead of adding to it.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.config import Config
from pipeline.serving.verify import FreshServingProcess, ServingFailedError, verify_rows

DEFAULT_ROWS = 1000


class ParityError(RuntimeError):
    """serving/ does not reproduce the batch output; the message names the features."""


class ParitySample:
    """Started with the run; `check` once the output is written, `close` on failure."""

    def __init__(self, config: Config, rows: int) -> None:
        self.config = config
        self.rows = rows
        self.process = FreshServingProcess() if rows > 0 else None

    def check(self, output_dir: str) -> tuple[dict[str, Any], float]:
        """The manifest's `parity_sample` entry and the seconds it took; raises on a mismatch."""
        if self.process is None:
            return {"rows_requested": 0, "status": "off"}, 0.0
        started = time.monotonic()
        try:
            report = verify_rows(output_dir, self.config, self.config.input_pattern,
                                 rows=self.rows, leading_batch_rows_only=True,
                                 process=self.process)
        except ServingFailedError as error:
            raise ParityError(
                f"parity sample failed: {error}; the batch run accepted those rows, so "
                "training and serving would disagree, and nothing was published") from error
        finally:
            self.close()
        entry = {"rows_requested": self.rows, "rows_served": report.rows_checked,
                 "invalid_rows_skipped": report.rows_skipped,
                 "batch_rows_searched": report.batch_rows,
                 "unmatched_rows": report.unmatched_rows,
                 "mismatching_rows": {name: count for name, count
                                      in report.mismatches.items() if count},
                 "status": ("no valid rows" if not report.rows_checked
                            else "failed" if report.unmatched_rows else "passed")}
        if entry["status"] == "failed":
            features = ", ".join(f"{name} ({count} rows)"
                                 for name, count in entry["mismatching_rows"].items())
            raise ParityError(
                f"parity sample failed: {report.unmatched_rows} of {report.rows_checked} rows "
                "served by serving/ differ from the batch output "
                f"(features: {features or 'row layout'}); training and serving would "
                "disagree, so nothing was published")
        return entry, time.monotonic() - started

    def close(self) -> None:
        if self.process is not None:
            self.process.close()

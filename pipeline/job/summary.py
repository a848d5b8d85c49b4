"""What a finished run prints: the summary lines and the drift verdict (docs/running.md
"Running")."""

from __future__ import annotations

import dataclasses

from pipeline.diagnostics.drift import crossing_text
from pipeline.diagnostics.report import worst_first
from pipeline.io.layout import (
    DATA_DIR,
    INVALID_DIR,
    MANIFEST,
    RAW_METADATA_DIR,
    REPORT_DIR,
    SERVING_DIR,
    SUCCESS,
    TRANSFORM_FN_DIR,
    TRANSFORMED_METADATA_DIR,
)


@dataclasses.dataclass(frozen=True)
class RunSummary:
    output_dir: str
    rows_read: int
    rows_written: int
    rows_quarantined: int
    seconds: float
    parity_sample: dict = dataclasses.field(default_factory=dict)
    drift: dict | None = None  # the drift section of a transform-only run
    collisions: dict | None = None  # per hashed feature (collision_counts), None when off
    quarantine: bool = False  # the run set invalid rows aside in invalid/
    # Rows holding a NaN float, read as missing (docs/config.md "Missing and invalid values").
    rows_with_nan: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    @property
    def drift_gate_failed(self) -> bool:
        """A drift threshold was crossed and the gate (--fail-on-drift or drift:) is on."""
        return bool(self.drift and self.drift["crossings"] and self.drift["gate"])

    def text(self) -> str:
        """The lines printed on standard output when the run is published."""
        lines = [f"featurecross: done in {self.seconds:.1f}s ({self.rows_per_second:,.0f} rows/s)",
                 f"  rows read:        {self.rows_read:,}",
                 f"  rows written:     {self.rows_written:,}",
                 f"  rows quarantined: {self.rows_quarantined:,}"]
        if self.rows_with_nan:
            lines.append(f"  rows with NaN:    {self.rows_with_nan:,} (NaN counts as missing: "
                         "the column's default, or the row is invalid)")
        if not self.rows_written:
            lines.append("  no rows:          the input has no valid rows; the output holds "
                         "the graph and no data (allowed: nothing was analysed)")
        parity = self.parity_sample
        if parity.get("status") == "passed":
            lines.append(f"  parity sample:    {parity['rows_served']:,} rows served by serving/ "
                         "equal the batch output")
        else:
            lines.append(f"  parity sample:    {parity.get('status', 'off')}")
        parts = [DATA_DIR, TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR, RAW_METADATA_DIR,
                 SERVING_DIR]
        names = [f"{part}/" for part in parts] + [MANIFEST]
        if self.collisions:
            names.append(f"{REPORT_DIR}/")
        if self.quarantine:
            names.append(f"{INVALID_DIR}/")
        lines.append(f"  output:           {self.output_dir}/ ({', '.join(names + [SUCCESS])})")
        if self.collisions:
            lines.extend(_collision_lines(self.collisions))
        if self.drift is not None and not self.drift["crossings"]:
            lines.append("  drift:            within every threshold (figures in manifest.json)")
        return "\n".join(lines)

    def drift_warnings(self) -> list[str]:
        """The messages for standard error when a drift threshold was crossed."""
        if not self.drift or not self.drift["crossings"]:
            return []
        lines = [f"drift: {crossing_text(crossing)}" for crossing in self.drift["crossings"]]
        if self.drift["gate"]:
            lines.append("drift gate: exit 4; the output is complete and published")
        else:
            lines.append("drift is a warning only; --fail-on-drift or a drift: block in the "
                         "config makes it exit 4")
        return lines


def _collision_lines(collisions: dict) -> list[str]:
    """One line per hashed feature, worst first: what the modulo cost."""
    lines = ["  collisions (share of distinct keys sharing a bin; random hash in brackets):"]
    width = max(len(name) for name in collisions)
    for name in worst_first(collisions):
        entry = collisions[name]
        lines.append(f"    {name:<{width}}  {entry['collision_rate']:7.2%} "
                     f"({entry['expected_collision_rate']:.2%})  {entry['distinct']:,} keys in "
                     f"{entry['num_bins']:,} bins"
                     + ("" if entry["method"] == "exact" else ", sampled"))
    return lines

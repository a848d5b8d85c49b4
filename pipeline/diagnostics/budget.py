"""The diagnostics' memory budget per worker, turned into per-feature limits.

The collision report, the drift baseline and `num_bins: auto` count every
hashed feature's distinct keys. A worker may hold every feature's counts at
once, so the budget (`--diagnostics-memory-mb`, else the config's
`output.diagnostics_memory_mb`, else `DEFAULT_MEMORY_MB`) is shared equally by
the hashed features: each feature is counted exactly up to `exact_limit`
distinct keys (its share at `BYTES_PER_KEY`, at least `MIN_EXACT_LIMIT`), and
above it from bounded samples (`pipeline.diagnostics.samples`) whose size does
not depend on the data. `featurecross profile` shares it the same way over the
columns and features it counts. docs/outputs.md "Collision report".
"""

from __future__ import annotations

import dataclasses

from pipeline.config.model import DEFAULT_DIAGNOSTICS_MEMORY_MB

DEFAULT_MEMORY_MB = DEFAULT_DIAGNOSTICS_MEMORY_MB
# What one distinct key costs in `collisions.KeyCounts`: 24 bytes held (key,
# bin, rows), up to as much again in batches waiting to be grouped (they are
# grouped once they outnumber the keys held), and room for the grouping
# itself and a pickled copy when an accumulator leaves a bundle.
BYTES_PER_KEY = 64
MIN_EXACT_LIMIT = 4096     # a feature's exact limit never goes below this
SAMPLE_KEYS = 4096         # keys a sampled feature keeps (bottom-k)
BASELINE_KEYS = 2048       # of which the drift baseline stores this many
SAMPLE_BINS = 4096         # bins sampled when rows per bin do not fit as an array
HEAVY_BINS = 4096          # busiest bins tracked for the maximum rows per bin
BYTES_PER_BIN = 8          # a dense rows-per-bin array's cost per bin (int64)


@dataclasses.dataclass(frozen=True)
class DiagnosticsBudget:
    """The budget and what it gives each of `features` counts held at once (hashed
    features in a run; profiled columns and hashed features in `profile`)."""

    memory_mb: int = DEFAULT_MEMORY_MB
    features: int = 1

    @property
    def share_bytes(self) -> int:
        return self.memory_mb * 2**20 // max(self.features, 1)

    @property
    def exact_limit(self) -> int:
        """Distinct keys a feature counts exactly before it switches to samples."""
        return max(MIN_EXACT_LIMIT, self.share_bytes // BYTES_PER_KEY)

    @property
    def dense_bin_limit(self) -> int:
        """The largest num_bins a sampled feature keeps rows per bin for as an array.

        The array may take half the feature's share; above it the bins are
        sampled too (`SAMPLE_BINS`, `HEAVY_BINS`).
        """
        return self.share_bytes // 2 // BYTES_PER_BIN

    def describe(self) -> dict:
        """What manifest.json's `collisions` section says about the budget."""
        return {"memory_budget_mb": self.memory_mb, "hashed_features": self.features,
                "exact_limit": self.exact_limit, "bytes_per_key": BYTES_PER_KEY,
                "sample_keys": SAMPLE_KEYS, "baseline_keys": BASELINE_KEYS}

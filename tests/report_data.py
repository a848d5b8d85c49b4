"""A wide config and collision figures for report tests: 286 crosses (pairs and
triples of 12 columns), each feature's figures counted from random keys."""

from __future__ import annotations

import numpy as np

from pipeline.config import parse_config
from pipeline.diagnostics.run_figures import RunFigures

COLUMNS = [f"c{i}" for i in range(12)]


def wide_config():
    return parse_config({
        "input": {"format": "parquet", "pattern": "in.parquet"},
        "schema": {name: {"type": "string"} for name in COLUMNS},
        "crosses": [{"all_of": COLUMNS, "degree": [2, 3], "num_bins": 1000}],
        "output": {"dir": "out", "format": "parquet"}}, path="wide.yaml")


def collision_figures(config, seed: int = 0) -> dict[str, dict]:
    """Per feature: distinct keys hashed into num_bins, counted by brute force."""
    rng = np.random.default_rng(seed)
    figures = {}
    for feature in config.features:
        distinct = int(rng.integers(10, 3000))
        bins = rng.integers(0, feature.num_bins, size=distinct)
        rows = rng.integers(1, 50, size=distinct)
        keys_in_bin = np.bincount(bins, minlength=feature.num_bins)
        colliding = int((keys_in_bin[bins] > 1).sum())
        rows_in_bin = np.bincount(bins, weights=rows, minlength=feature.num_bins)
        used = np.sort(rows_in_bin[rows_in_bin > 0])[::-1].astype(int)
        figures[feature.name] = {
            "num_bins": feature.num_bins, "distinct": distinct, "colliding": colliding,
            "bins_used": int((keys_in_bin > 0).sum()),
            "collision_rate": colliding / distinct,
            "expected_collision_rate": 1 - (1 - 1 / feature.num_bins) ** (distinct - 1),
            "rows_per_bin": {"max": int(used[0]),
                             **{name: int(np.percentile(used, q, method="lower"))
                                for name, q in (("p50", 50), ("p99", 99))}},
            "method": "exact",
            "occupancy_curve": [[rank + 1, int(r)] for rank, r in enumerate(used)]}
    return figures


def run_figures(collisions: dict, drift: dict | None = None) -> RunFigures:
    return RunFigures(stats={}, boundaries={}, collisions=collisions, vocabularies={},
                      num_bins_choices={}, drift_baseline=None, drift=drift)

"""Everything a run measures about itself, collected into one object.

The pipeline steps leave their figures as side files in the work directory;
`collect` reads each back once, in one place, and derives the drift
baseline and verdict from them. The manifest and the report both take the
resulting `RunFigures` (docs/outputs.md "Output").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.config import Config
from pipeline.diagnostics import drift_baseline
from pipeline.diagnostics.auto_bins import publish_choices, read_choices
from pipeline.diagnostics.collision_counts import read_collisions, read_combinations
from pipeline.diagnostics.drift_counts import read_drift_counts
from pipeline.diagnostics.stats import read_feature_stats
from pipeline.diagnostics.vocabulary_coverage import read_vocabulary_report
from pipeline.transform.boundaries import bucket_boundaries


@dataclasses.dataclass(frozen=True)
class RunFigures:
    """A run's figures: what manifest.json and report/ show."""

    stats: dict[str, dict]                      # per output column (stats.py)
    boundaries: dict[str, list[float]]          # per bucketize feature, read from the graph
    collisions: dict[str, dict] | None          # per hashed feature; None when the report is off
    vocabularies: dict[str, dict]               # per vocabulary cross: size and row coverage
    num_bins_choices: dict[str, dict]           # per `num_bins: auto` cross: how it was chosen
    drift_baseline: dict[str, Any] | None       # the baseline's figures (no arrays)
    drift: dict[str, Any] | None                # a transform-only run's comparison with it
    collision_budget: dict[str, Any] | None = None  # the diagnostics' memory budget and limits


def collect(config: Config, work_dir: str, *, frozen_run: str | None,
            fail_on_drift: bool, layer=None) -> RunFigures:
    """Reads the side files of a finished pipeline in `work_dir` and stores the baseline.

    An analysis run moves its `num_bins: auto` choices into the graph's assets
    and stores its own drift baseline; a transform-only run (`frozen_run`)
    reads the frozen choices and compares today's data with the frozen baseline.
    `layer`: the transform graph's layer, when the caller has it loaded (the
    bucket boundaries are read from it).
    """
    choices = (read_choices(config, work_dir) if frozen_run
               else publish_choices(config, work_dir))
    counted = read_collisions(work_dir)
    collisions = None if counted is None else counted["features"]
    boundaries = bucket_boundaries(config, work_dir, layer=layer)
    today = drift_baseline.summaries(config, boundaries=boundaries,
                                     combinations=read_combinations(work_dir, collisions),
                                     drift_counts=read_drift_counts(work_dir))
    baseline, drift = drift_baseline.record(config, work_dir, today, frozen_run=frozen_run,
                                            fail_on_drift=fail_on_drift)
    return RunFigures(stats=read_feature_stats(work_dir), boundaries=boundaries,
                      collisions=collisions,
                      vocabularies=read_vocabulary_report(config, work_dir),
                      num_bins_choices=choices, drift_baseline=baseline, drift=drift,
                      collision_budget=None if counted is None else counted["budget"])

"""`manifest.json`: what produced an output directory, and what it holds.

It is strict JSON, readable by any JSON parser: a statistic that is not a
finite number (a float feature holding inf or NaN) is written as null, and
`notes` says which value it was.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from importlib import metadata
from typing import Any

import tensorflow as tf

from pipeline.config import Config
from pipeline.diagnostics.run_figures import RunFigures
from pipeline.io.layout import MANIFEST
from pipeline.job.summary import RunSummary
from pipeline.transform.output_specs import output_feature_spec

_PACKAGES = ("featurecross", "tensorflow", "tensorflow-transform", "tfx-bsl",
             "apache-beam", "pyarrow")


def installed_versions() -> dict[str, str]:
    found = {}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def describe_features(config: Config, boundaries: dict[str, list[float]],
                      vocabularies: dict[str, dict] | None = None,
                      num_bins_choices: dict[str, dict] | None = None) -> list[dict[str, Any]]:
    """Per output: its kind, inputs, settings, stored form, bucket boundaries and,
    for vocabulary crosses, the vocabulary's size and row coverage.

    A `num_bins: auto` cross shows the chosen num_bins and, under
    `num_bins_auto`, how the analysis chose it.
    """
    vocabularies = vocabularies or {}
    choices = num_bins_choices or {}
    spec = output_feature_spec(config)
    described = []
    for feature in config.features:
        entry: dict[str, Any] = {"name": feature.name, "kind": feature.kind,
                                 "inputs": list(feature.inputs),
                                 "stored_as": repr(spec[feature.name])}
        if feature.is_categorical:
            entry.update(num_bins=feature.width, output=feature.output, sparse=feature.sparse)
        if feature.generated_by:
            entry["generated_by"] = feature.generated_by
        if feature.name in choices:
            entry["num_bins"] = choices[feature.name]["num_bins"]
            entry["num_bins_auto"] = choices[feature.name]
        if feature.kind == "cross" and feature.vocabulary is None:
            entry["hash_key"] = feature.hash_key  # as the config gives it
            entry["hash_key_applied"] = feature.applied_hash_key  # the int64 TF's op gets
        if feature.vocabulary is not None:
            entry["vocabulary"] = {**dataclasses.asdict(feature.vocabulary),
                                   **vocabularies.get(feature.name, {})}
        if feature.kind == "hash" and feature.salt:
            entry["salt"] = list(feature.salt)
        if feature.name in boundaries:
            entry["boundaries"] = boundaries[feature.name]
        if feature.kind == "polynomial":
            entry["terms"] = feature.polynomial_term_names()
        described.append(entry)
    return described


def collision_section(collisions: dict[str, dict] | None,
                      budget: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The diagnostics' memory budget, the exact limit per feature it gives, and per
    hashed feature its collision figures and how they were counted (`method`)
    (docs/outputs.md "Collision report"); None if off."""
    if collisions is None:
        return None
    budget = budget or {}
    return {**budget, "exact_limit": budget.get("exact_limit"),
            "methods": {name: "exact" if figures["method"] == "exact" else "sample"
                        for name, figures in collisions.items()},
            "features": {name: {k: v for k, v in figures.items() if k != "occupancy_curve"}
                         for name, figures in collisions.items()}}


def write_manifest(output_dir: str, config: Config, summary: RunSummary, figures: RunFigures,
                   *, transform_fn_dir: str | None, timings: dict[str, float]) -> None:
    with tf.io.gfile.GFile(config.path) as handle:  # a gs:// config too
        config_text = handle.read()
    manifest = {
        "config_path": config.path,
        "config": config_text,
        "input_pattern": config.input_pattern,
        "input_format": config.input_format,
        "output_format": config.output_format,
        "transform_fn_from": transform_fn_dir,
        "versions": installed_versions(),
        "rows": {"read": summary.rows_read, "written": summary.rows_written,
                 "quarantined": summary.rows_quarantined},
        # docs/config.md "Missing and invalid values": NaN is read as missing
        "rows_with_nan": summary.rows_with_nan,
        "seconds": round(summary.seconds, 3),
        "timings": {phase: round(seconds, 3) for phase, seconds in timings.items()},
        "features": describe_features(config, figures.boundaries, figures.vocabularies,
                                      figures.num_bins_choices),
        "column_stats": figures.stats,
        "parity_sample": summary.parity_sample,
        "drift_baseline": figures.drift_baseline,
        "drift": figures.drift,
        # The budget applied (flag, config or default): `collisions` repeats it
        # when there is a report, but num_bins: auto used it even without one.
        "diagnostics_memory_mb": config.diagnostics_memory_mb,
        "collisions": collision_section(figures.collisions, figures.collision_budget),
    }
    notes: list[str] = []
    manifest = finite_json(manifest, "", notes)
    if notes:
        manifest["notes"] = notes
    with tf.io.gfile.GFile(os.path.join(output_dir, MANIFEST), "w") as handle:
        handle.write(json.dumps(manifest, indent=2, allow_nan=False) + "\n")


def finite_json(value: Any, where: str, notes: list[str]) -> Any:
    """`value` with every non-finite float replaced by None, each noted in `notes`."""
    if isinstance(value, float) and not math.isfinite(value):
        notes.append(f"{where}: {value} is not a finite number; written as null")
        return None
    if isinstance(value, dict):
        return {key: finite_json(item, f"{where}.{key}" if where else str(key), notes)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item, f"{where}[{index}]", notes)
                for index, item in enumerate(value)]
    return value

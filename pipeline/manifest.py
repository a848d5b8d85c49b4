"""`manifest.json`: what produced an output directory, and what it holds."""

from __future__ import annotations

import json
import os
from importlib import metadata
from typing import Any, Protocol

import tensorflow as tf

from pipeline.config import Config
from pipeline.outputs import output_feature_spec

_PACKAGES = ("featurecross", "tensorflow", "tensorflow-transform", "tfx-bsl",
             "apache-beam", "pyarrow")


class Counts(Protocol):
    rows_read: int
    rows_written: int
    rows_quarantined: int
    seconds: float


def installed_versions() -> dict[str, str]:
    found = {}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def describe_features(config: Config,
                      boundaries: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Per output: its kind, inputs, settings, stored form and bucket boundaries."""
    spec = output_feature_spec(config)
    described = []
    for feature in config.features:
        entry: dict[str, Any] = {"name": feature.name, "kind": feature.kind,
                                 "inputs": list(feature.inputs),
                                 "stored_as": repr(spec[feature.name])}
        if feature.is_categorical:
            entry.update(num_bins=feature.width, output=feature.output, sparse=feature.sparse)
        if feature.kind == "cross":
            entry["hash_key"] = feature.hash_key  # as the config gives it
            entry["hash_key_applied"] = feature.applied_hash_key  # the int64 TF's op gets
        if feature.kind == "hash" and feature.salt:
            entry["salt"] = list(feature.salt)
        if feature.name in boundaries:
            entry["boundaries"] = boundaries[feature.name]
        if feature.kind == "polynomial":
            entry["terms"] = feature.polynomial_term_names()
        described.append(entry)
    return described


def write_manifest(output_dir: str, config: Config, counts: Counts, *,
                   transform_fn_dir: str | None, boundaries: dict[str, list[float]],
                   stats: dict[str, dict], timings: dict[str, float]) -> None:
    with open(config.path, encoding="utf-8") as handle:
        config_text = handle.read()
    manifest = {
        "config_path": config.path,
        "config": config_text,
        "input_pattern": config.input_pattern,
        "input_format": config.input_format,
        "output_format": config.output_format,
        "transform_fn_from": transform_fn_dir,
        "versions": installed_versions(),
        "rows": {"read": counts.rows_read, "written": counts.rows_written,
                 "quarantined": counts.rows_quarantined},
        "seconds": round(counts.seconds, 3),
        "timings": {phase: round(seconds, 3) for phase, seconds in timings.items()},
        "features": describe_features(config, boundaries),
        "column_stats": stats,
    }
    with tf.io.gfile.GFile(os.path.join(output_dir, "manifest.json"), "w") as handle:
        handle.write(json.dumps(manifest, indent=2) + "\n")


def read_manifest(output_dir: str) -> dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(output_dir, "manifest.json")) as handle:
        return json.load(handle)

"""Every name inside an output directory, and reading a finished one back.

One module owns the layout (docs/outputs.md "Output") so that the writers, the
readers (`verify`, `--transform-fn`, the drift gate) and the summary agree
on it; nothing else spells these names.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
import yaml

from pipeline.config import Config, parse_config

# Published parts of OUT.
DATA_DIR = "data"                          # transformed rows, part files
INVALID_DIR = "invalid"                    # quarantined rows with their reasons
TRANSFORM_FN_DIR = "transform_fn"          # tf.Transform's SavedModel
TRANSFORMED_METADATA_DIR = "transformed_metadata"
RAW_METADATA_DIR = "metadata"              # raw schema, where TFTransformOutput.raw_metadata looks
SERVING_DIR = "serving"                    # the serving SavedModel
REPORT_DIR = "report"                      # index.html and the drift baseline
MANIFEST = "manifest.json"
REJECTED_INVALID_SUFFIX = ".invalid"      # OUT.invalid/: a failed run's invalid/, kept beside OUT
SUCCESS = "_SUCCESS"                       # written last: OUT is complete exactly when it exists
TRANSFORM_DIRS = (TRANSFORM_FN_DIR, TRANSFORMED_METADATA_DIR)  # what a frozen run carries

# Inside those parts.
REPORT_PAGE = "index.html"
BASELINE_FILE = "drift_baseline.npz"       # under REPORT_DIR
NUM_BINS_RECORD = os.path.join(TRANSFORM_FN_DIR, "assets.extra", "num_bins.json")

# Scratch names while a run works; none survives publishing.
TEMP_DIR_NAME = "tft_tmp"                  # tf.Transform's temp dir
PARTS_TEMP_DIR = ".parts-tmp"              # under DATA_DIR, part files before their final names
NUM_BINS_RECORD_DIR = "auto_num_bins"      # the num_bins: auto analyzer's choices
STATS_FILE = "feature_stats.json"          # side files the pipeline steps leave for the driver
COLLISIONS_FILE = "collisions.json"
COMBINATIONS_FILE = "combinations.npz"
DRIFT_COUNTS_FILE = "drift_counts.json"
COVERAGE_FILE = "vocabulary_coverage.json"


def rejected_invalid_dir(output_dir: str) -> str:
    """Where a run that failed on its invalid rows leaves them (docs/running.md "Invalid rows")."""
    return output_dir.rstrip("/") + REJECTED_INVALID_SUFFIX


def read_manifest(output_dir: str) -> dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(output_dir, MANIFEST)) as handle:
        return json.load(handle)


def read_run_config(output_dir: str) -> Config:
    """The config a finished run was made with, as its manifest stored it."""
    manifest = read_manifest(output_dir)
    return parse_config(yaml.safe_load(manifest["config"]),
                        path=os.path.join(output_dir, MANIFEST))

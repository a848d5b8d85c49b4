"""A transform-only run's frozen graph: checked, fitted to the config, carried along.

docs/running.md "Running": `--transform-fn DIR` applies the graph an earlier, complete
run exported; the new output carries a copy of it, so the next day's run can
freeze this one in turn.
"""

from __future__ import annotations

import os

import tensorflow as tf

from pipeline.config import Config
from pipeline.io.layout import (
    MANIFEST,
    TRANSFORM_DIRS,
    TRANSFORM_FN_DIR,
    TRANSFORMED_METADATA_DIR,
    read_run_config,
)
from pipeline.io.publish import PublishError, require_complete
from pipeline.transform.batch_transformer import GraphMismatchError


class FrozenRunError(RuntimeError):
    """`--transform-fn` names no complete featurecross run."""


# What a frozen graph needs besides what loading it checks (TFTransformOutput reads
# the schema lazily, and a graph without its variables may still load).
FROZEN_FILES = (os.path.join(TRANSFORM_FN_DIR, "saved_model.pb"),
                os.path.join(TRANSFORM_FN_DIR, "variables", "variables.index"),
                os.path.join(TRANSFORMED_METADATA_DIR, "schema.pbtxt"))


def check_frozen_run(run_dir: str) -> None:
    """Refuses an unfinished or damaged frozen run before the job starts, naming `run_dir`.

    Loading the graph here costs a second and turns a damaged file (a deleted
    or truncated saved_model.pb, missing variables or schema) into one line
    about the directory the user gave, instead of a traceback about the job's
    staging copy.
    """
    import tensorflow_transform as tft
    try:
        require_complete(run_dir, "--transform-fn")
    except PublishError as error:
        raise FrozenRunError(str(error)) from None
    for name in FROZEN_FILES:
        if not tf.io.gfile.exists(os.path.join(run_dir, name)):
            raise FrozenRunError(f"--transform-fn {run_dir}: {name} is missing, so its frozen "
                                 "graph is damaged; rerun the analysis run that made it")
    try:
        output = tft.TFTransformOutput(run_dir)
        output.transformed_feature_spec()
        output.transform_features_layer()
    except Exception as error:  # noqa: BLE001 - any failure to load is a damaged graph
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise FrozenRunError(f"--transform-fn {run_dir}: its frozen graph does not load "
                             f"({reason}); rerun the analysis run that made it") from None


def copy_transform_fn(source_dir: str, staging: str) -> None:
    """A transform-only run carries the frozen graph it applied."""
    for name in TRANSFORM_DIRS:
        source = os.path.join(source_dir, name)
        if not tf.io.gfile.isdir(source):
            raise FrozenRunError(f"--transform-fn {source_dir}: no {name}/ there; pass the output "
                                 "directory of an earlier featurecross run")
        for root, _, files in tf.io.gfile.walk(source):
            relative = os.path.relpath(root, source)  # "." would be a literal name on gs://
            target_root = os.path.join(staging, name, "" if relative == "." else relative)
            tf.io.gfile.makedirs(target_root)
            for file_name in files:
                tf.io.gfile.copy(os.path.join(root, file_name),
                                 os.path.join(target_root, file_name))


def check_frozen_features(config: Config, run_dir: str) -> None:
    """Checks the config's features are the ones the run in `run_dir` exported.

    Output shapes alone miss a changed num_bins, hash_key, salt or boundary:
    the frozen graph would apply its own while the manifest showed the new ones.
    """
    if not tf.io.gfile.exists(os.path.join(run_dir, MANIFEST)):
        return
    frozen = read_run_config(run_dir)
    changed = [mine.name for mine, theirs in zip(config.features, frozen.features)
               if mine != theirs]
    if changed or len(config.features) != len(frozen.features):
        raise GraphMismatchError(
            f"the transform graph in {run_dir} does not produce the features of "
            f"{config.path} (settings differ: {', '.join(changed) or 'feature list'}); "
            "use the config of the run that exported it")

"""Publishing an output directory: OUT is complete exactly when OUT/_SUCCESS exists.

On a local filesystem a run writes into a staging directory next to OUT and
renames it into place once everything is written; a rename there is atomic.
On an object store (gs://) a directory "rename" is a copy plus a delete per
object, so a reader could see OUT half there; the run writes straight into
OUT instead, which must be absent or empty (`--overwrite` empties it first).
Either way `_SUCCESS` is the last file written, a failed run never writes it,
and a failed run removes what it wrote when it can.

Steps that add files to a run (reports, samples) write them into
`Publication.work_dir` before `commit()`.
"""

from __future__ import annotations

import os
import uuid

import tensorflow as tf

from pipeline.io.layout import SUCCESS, TEMP_DIR_NAME


class PublishError(RuntimeError):
    """OUT cannot be written, or a run's OUT is not complete."""


def is_object_store(path: str) -> bool:
    """True for gs:// and other remote schemes (where renames copy)."""
    return "://" in path and not path.startswith("file://")


def is_complete(output_dir: str) -> bool:
    return tf.io.gfile.exists(os.path.join(output_dir, SUCCESS))


def require_complete(output_dir: str, role: str) -> None:
    """Refuses a run's OUT whose `_SUCCESS` is missing (failed, or still running)."""
    if not is_complete(output_dir):
        raise PublishError(
            f"{role} {output_dir}: no {SUCCESS} there, so that run did not finish "
            "(it failed or is still running); pass the output directory of a finished "
            "featurecross run")


class Publication:
    """One run's output: where to write while running, then commit or abort."""

    def __init__(self, output_dir: str, *, overwrite: bool,
                 in_place: bool | None = None) -> None:
        """`in_place` defaults to "OUT is on an object store"."""
        self.output_dir = output_dir.rstrip("/")
        self.overwrite = overwrite
        self.in_place = is_object_store(self.output_dir) if in_place is None else in_place
        self.work_dir = (self.output_dir if self.in_place
                         else f"{self.output_dir}.tmp-{uuid.uuid4().hex[:8]}")
        self._started = False

    def begin(self) -> None:
        """Checks OUT may be written; on an object store empties it for --overwrite."""
        if _has_files(self.output_dir):
            if not self.overwrite:
                raise PublishError(f"the output directory {self.output_dir} is not empty; "
                                   "pass --overwrite to replace it")
            if self.in_place:
                _remove_output(self.output_dir)
        self._started = True

    def commit(self) -> None:
        """Publishes the run; `_SUCCESS` is the last file written."""
        temp = os.path.join(self.work_dir, TEMP_DIR_NAME)
        if tf.io.gfile.exists(temp):
            tf.io.gfile.rmtree(temp)
        if not self.in_place:
            if tf.io.gfile.exists(self.output_dir):
                tf.io.gfile.rmtree(self.output_dir)
            tf.io.gfile.rename(self.work_dir, self.output_dir)
        with tf.io.gfile.GFile(os.path.join(self.output_dir, SUCCESS), "w") as handle:
            handle.write("")

    def set_aside(self, part: str, destination: str) -> bool:
        """Moves `part` of the work directory to `destination` (replaced), so it outlives
        an abort; False when the run wrote no such part."""
        source = os.path.join(self.work_dir, part)
        if not tf.io.gfile.exists(source):
            return False
        if tf.io.gfile.exists(destination):
            tf.io.gfile.rmtree(destination)
        if not self.in_place:
            tf.io.gfile.rename(source, destination)
            return True
        for directory, _, files in tf.io.gfile.walk(source):  # an object store: per object
            relative = os.path.relpath(directory, source)
            target = os.path.normpath(os.path.join(destination, relative))
            tf.io.gfile.makedirs(target)
            for name in files:
                tf.io.gfile.rename(os.path.join(directory, name), os.path.join(target, name))
        return True

    def abort(self) -> None:
        """Removes what a failed run wrote, as far as it can; never raises."""
        if not self._started:
            return
        try:
            if tf.io.gfile.exists(self.work_dir):
                tf.io.gfile.rmtree(self.work_dir)
        except (tf.errors.OpError, OSError):
            pass  # the failure being reported matters more; no _SUCCESS was written


def _has_files(directory: str) -> bool:
    return tf.io.gfile.exists(directory) and bool(tf.io.gfile.listdir(directory))


def _remove_output(directory: str) -> None:
    """Empties a published OUT, `_SUCCESS` first, so no reader trusts a half-deleted OUT."""
    success = os.path.join(directory, SUCCESS)
    if tf.io.gfile.exists(success):
        tf.io.gfile.remove(success)
    tf.io.gfile.rmtree(directory)

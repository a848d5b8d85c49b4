"""Publishing an output directory: OUT is complete exactly when OUT/_SUCCESS exists.

A run first claims OUT (pipeline/io/claim.py), so no other run writes there
meanwhile, and cleans what a gone run left. It then writes everything into a
staging directory `OUT.tmp-RUNID` next to OUT and publishes only at the end,
so a previous output stays published until the new one is complete:

- on a local disk: rename the old OUT aside (`OUT.old-RUNID`), rename the
  staging directory in, write `_SUCCESS`, delete the old one. A run killed
  between the renames is repaired by the next run into OUT, which puts the old
  output back (or, if the new one got its `_SUCCESS`, deletes the old);
- on an object store (gs://), where a rename is a copy and a delete per
  object: mark the staging prefix `_COMMITTING`, remove the old OUT
  (`_SUCCESS` first), copy the staged objects in, write `_SUCCESS` last. A run
  killed in that window leaves a marked staging prefix, and the next run
  finishes the copy before anything else.

Steps that add files to a run (reports, samples) write them into
`Publication.work_dir` before `commit()` (docs/outputs.md "Publishing").
"""

from __future__ import annotations

import concurrent.futures
import os
import time

import tensorflow as tf

from pipeline.io.claim import Claim, ClaimError, new_run_id, os_error_message
from pipeline.io.layout import SUCCESS, TEMP_DIR_NAME
from pipeline.io.pause_points import pause_point

COMMITTING = "_COMMITTING"  # in an object-store staging prefix: its copy into OUT has begun
PROBE = ".featurecross-probe"
COPY_THREADS = 16  # object copies in flight while an object store's OUT is replaced


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
    """One run's output: claim and stage (`begin`), then `commit` or `abort`."""

    def __init__(self, output_dir: str, *, overwrite: bool,
                 copy_in: bool | None = None, run_id: str | None = None) -> None:
        """`copy_in` (publish by copying objects) defaults to "OUT is on an object store"."""
        self.output_dir = output_dir.rstrip("/")
        self.overwrite = overwrite
        self.copy_in = is_object_store(self.output_dir) if copy_in is None else copy_in
        self.run_id = run_id or new_run_id()
        self.work_dir = f"{self.output_dir}.tmp-{self.run_id}"
        self.claim = Claim(self.output_dir, self.run_id)
        self.notes: list[str] = []            # what begin() repaired, for the user
        self.replace_seconds: float | None = None  # object stores: OUT without _SUCCESS
        self._started = False
        self._old = f"{self.output_dir}.old-{self.run_id}"

    def begin(self) -> None:
        """Claims OUT, cleans a gone run's leftovers, checks OUT may be written."""
        try:
            self.claim.acquire()
        except ClaimError as error:
            raise PublishError(str(error)) from None
        self._started = True
        if self.claim.broken is not None:
            self.notes.append(f"broke the claim of {self.claim.broken.describe()}, which is "
                              "gone")
        try:
            self._repair()
            self._check_output()
            self._probe()
        except BaseException:
            self.claim.release()
            self._started = False
            raise

    def commit(self) -> None:
        """Publishes the run; `_SUCCESS` is the last file written."""
        temp = os.path.join(self.work_dir, TEMP_DIR_NAME)
        if tf.io.gfile.exists(temp):
            tf.io.gfile.rmtree(temp)
        if self.copy_in:
            _write(os.path.join(self.work_dir, COMMITTING))
            self._copy_in(self.work_dir)
        else:
            if tf.io.gfile.exists(self.output_dir):
                os.rename(self.output_dir, self._old)
            pause_point("commit")
            os.rename(self.work_dir, self.output_dir)
            _write(os.path.join(self.output_dir, SUCCESS))
            if os.path.exists(self._old):
                tf.io.gfile.rmtree(self._old)
        self.claim.release()
        self._started = False

    def set_aside(self, part: str, destination: str) -> bool:
        """Moves `part` of the work directory to `destination` (replaced), so it outlives
        an abort; False when the run wrote no such part."""
        source = os.path.join(self.work_dir, part)
        if not tf.io.gfile.exists(source):
            return False
        if tf.io.gfile.exists(destination):
            tf.io.gfile.rmtree(destination)
        if not self.copy_in:  # a local disk: one rename
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
        """Removes what a failed run wrote and puts back what it took away; never raises."""
        if not self._started:
            return
        try:
            if self.copy_in:
                if not tf.io.gfile.exists(os.path.join(self.work_dir, COMMITTING)):
                    _remove(self.work_dir)  # else the next run finishes the copy
            else:
                _remove(self.work_dir)
                if os.path.exists(self._old):
                    self._put_back(self._old)
        except (tf.errors.OpError, OSError):
            pass  # the failure being reported matters more; no _SUCCESS was written
        finally:
            self.claim.release()
            self._started = False

    # -- begin's parts ------------------------------------------------------------

    def _repair(self) -> None:
        """Holding the claim, every staging or old directory is a gone run's: repair OUT."""
        for old in sorted(_siblings(self.output_dir, ".old-")):
            self._put_back(old)
        for staging in sorted(_siblings(self.output_dir, ".tmp-")):
            if self.copy_in and tf.io.gfile.exists(os.path.join(staging, COMMITTING)):
                self._copy_in(staging)
                self.notes.append(f"finished publishing {staging} into {self.output_dir}, "
                                  "which a gone run had begun")
            else:
                _remove(staging)
                self.notes.append(f"removed {staging}, left by a gone run")
        leftover_temp = os.path.join(self.output_dir, TEMP_DIR_NAME)
        if tf.io.gfile.exists(leftover_temp):
            _remove(leftover_temp)
            self.notes.append(f"removed {leftover_temp}, left by a gone run")

    def _put_back(self, old: str) -> None:
        """A local commit stopped between its renames: keep whichever OUT is complete."""
        if is_complete(self.output_dir):
            _remove(old)
            return
        if tf.io.gfile.exists(self.output_dir):
            _remove(self.output_dir)  # the new output, never published
        os.rename(old, self.output_dir)
        self.notes.append(f"put the previous output back from {old}")

    def _check_output(self) -> None:
        if not self.copy_in and os.path.ismount(self.output_dir):
            raise PublishError(
                f"the output directory {self.output_dir} is a mount point; a run publishes "
                "by renaming a directory into place, so give a directory inside it")
        if _has_files(self.output_dir) and not self.overwrite:
            unfinished = "" if is_complete(self.output_dir) else " (an unfinished run: no " \
                f"{SUCCESS})"
            raise PublishError(f"the output directory {self.output_dir} is not empty"
                               f"{unfinished}; pass --overwrite to replace it")

    def _probe(self) -> None:
        """Writes and removes a file in the staging directory: the location takes files."""
        try:
            if self.copy_in:
                tf.io.gfile.makedirs(self.work_dir)
                _write(os.path.join(self.work_dir, PROBE))
                tf.io.gfile.remove(os.path.join(self.work_dir, PROBE))
            else:
                os.makedirs(self.work_dir)
                with open(os.path.join(self.work_dir, PROBE), "w") as handle:
                    handle.write("probe\n")
                os.remove(os.path.join(self.work_dir, PROBE))
        except OSError as error:
            _remove_quietly(self.work_dir)
            raise PublishError(os_error_message(self.output_dir, error)) from None
        except tf.errors.OpError as error:
            _remove_quietly(self.work_dir)
            raise PublishError(f"the output directory {self.output_dir} cannot be written: "
                               f"{error.message.splitlines()[0]}") from None

    # -- the object-store replacement ----------------------------------------------

    def _copy_in(self, staging: str) -> None:
        """Replaces OUT by the staged objects, `_SUCCESS` last; the one window without it.

        The staged objects are listed first (a listing costs seconds on gs://),
        so the window holds only the removal and the copies, which run in parallel.
        """
        copies, directories = [], set()
        for root, _, files in tf.io.gfile.walk(staging):
            relative = os.path.relpath(root, staging)  # "." would be a literal name on gs://
            target = os.path.join(self.output_dir, "" if relative == "." else relative)
            directories.add(target)
            copies += [(os.path.join(root, name), os.path.join(target, name)) for name in files
                       if not (relative == "." and name in (COMMITTING, SUCCESS))]
        started = time.monotonic()
        success = os.path.join(self.output_dir, SUCCESS)
        if tf.io.gfile.exists(success):
            tf.io.gfile.remove(success)
        if tf.io.gfile.exists(self.output_dir):
            tf.io.gfile.rmtree(self.output_dir)
        pause_point("commit")
        for directory in directories:
            if not is_object_store(directory):
                tf.io.gfile.makedirs(directory)  # object stores have no directories to make
        with concurrent.futures.ThreadPoolExecutor(COPY_THREADS) as pool:
            for done in [pool.submit(tf.io.gfile.copy, source, target, overwrite=True)
                         for source, target in copies]:
                done.result()
        _write(success)
        self.replace_seconds = time.monotonic() - started
        _remove(staging)


def _siblings(output_dir: str, infix: str) -> list[str]:
    """`OUT{infix}*` next to OUT: staging or set-aside directories of earlier runs."""
    found = tf.io.gfile.glob(f"{output_dir}{infix}*")
    return [path.rstrip("/") for path in found]


def _write(path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write("")


def _has_files(directory: str) -> bool:
    return tf.io.gfile.exists(directory) and bool(tf.io.gfile.listdir(directory))


def _remove(path: str) -> None:
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def _remove_quietly(path: str) -> None:
    try:
        _remove(path)
    except (tf.errors.OpError, OSError):
        pass

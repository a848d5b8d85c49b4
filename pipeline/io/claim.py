"""Claiming an output before a run writes anything: one run per OUT at a time.

Two runs into one OUT used to both pass the "empty output" check and then
replace each other's files. So a run first claims OUT by creating the file
`OUT.claim` only if it does not exist yet: locally an exclusive create
(O_CREAT|O_EXCL), on gs:// a write with the precondition "no object there"
(`if_generation_match=0`). Either is atomic: of two runs started together
exactly one gets OUT, and the other is refused at once, told which run holds
it (docs/outputs.md "Publishing").

The holder refreshes its lease from a background thread every
REFRESH_SECONDS. A claim whose run is gone (its process is dead on this host,
or its lease was not refreshed for LEASE_SECONDS) is broken by the next run,
which says so; the publication then cleans what that run left.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import functools
import json
import os
import socket
import threading
import time
import uuid

LEASE_SECONDS = 600.0   # a claim not refreshed for this long belongs to a run that is gone
REFRESH_SECONDS = 60.0
CLAIM_SUFFIX = ".claim"


class ClaimError(RuntimeError):
    """OUT is claimed by another run that is still alive, or cannot be claimed at all."""


@dataclasses.dataclass(frozen=True)
class ClaimRecord:
    """What a claim file holds: enough for a user to find the other run."""

    run_id: str
    host: str
    pid: int
    started: str        # ISO time, UTC

    @classmethod
    def mine(cls, run_id: str) -> "ClaimRecord":
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        return cls(run_id, socket.gethostname(), os.getpid(), now.isoformat())

    def text(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str) -> "ClaimRecord":
        try:
            fields = json.loads(text)
            return cls(str(fields["run_id"]), str(fields["host"]), int(fields["pid"]),
                       str(fields["started"]))
        except (ValueError, KeyError, TypeError):
            return cls("unknown", "unknown", -1, "unknown")  # a half-written claim

    def describe(self) -> str:
        return f"run {self.run_id} on {self.host} (pid {self.pid}), started {self.started}"

    def is_gone(self, age_seconds: float) -> bool:
        """True when the run is provably gone: dead here, or its lease ran out."""
        if age_seconds > LEASE_SECONDS:
            return True
        return self.host == socket.gethostname() and self.pid > 0 and not _alive(self.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _LocalClaimFile:
    """OUT.claim on a local disk; the lease is the file's modification time."""

    def __init__(self, path: str) -> None:
        self.path = path

    def create(self, text: str) -> bool:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        return True

    def read(self) -> tuple[str, float] | None:
        """(text, lease age in seconds), or None if there is no claim."""
        try:
            with open(self.path) as handle:
                text = handle.read()
            return text, time.time() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None

    def refresh(self) -> None:
        os.utime(self.path)

    def delete(self, expected_text: str) -> bool:
        """Removes the claim if it still holds `expected_text`; atomic against a racing run."""
        aside = f"{self.path}.broken-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        with open(aside) as handle:
            moved = handle.read()
        if moved != expected_text:  # another run claimed it meanwhile: put theirs back
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            os.remove(aside)
            return False
        os.remove(aside)
        return True


class _GcsClaimObject:
    """OUT.claim on gs://; the lease is the object's update time, refreshed by rewriting it."""

    def __init__(self, path: str) -> None:
        self.bucket_name, self.blob_name = path[len("gs://"):].split("/", 1)
        self.generation: int | None = None
        self.text = ""

    @functools.cached_property
    def bucket(self):
        """The client is made on first use: building a run's Publication touches no network."""
        from apache_beam.io.gcp.gcsio import create_storage_client
        from apache_beam.options.pipeline_options import PipelineOptions
        return create_storage_client(PipelineOptions()).bucket(self.bucket_name)

    def _blob(self):
        return self.bucket.blob(self.blob_name)

    def create(self, text: str) -> bool:
        from google.api_core.exceptions import PreconditionFailed
        blob = self._blob()
        try:
            blob.upload_from_string(text, if_generation_match=0)
        except PreconditionFailed:
            return False
        self.generation, self.text = blob.generation, text
        return True

    def read(self) -> tuple[str, float] | None:
        blob = self.bucket.get_blob(self.blob_name)
        if blob is None:
            return None
        self._seen_generation = blob.generation
        age = time.time() - blob.updated.timestamp()
        return blob.download_as_text(if_generation_match=blob.generation), age

    def refresh(self) -> None:
        blob = self._blob()
        blob.upload_from_string(self.text, if_generation_match=self.generation)
        self.generation = blob.generation

    def delete(self, expected_text: str) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed
        generation = (self.generation if expected_text == self.text
                      else getattr(self, "_seen_generation", None))
        try:
            self._blob().delete(if_generation_match=generation)
        except (NotFound, PreconditionFailed):
            return False
        return True


class Claim:
    """One run's claim on OUT: `acquire` before any work, `release` at the end."""

    def __init__(self, output_dir: str, run_id: str) -> None:
        self.output_dir = output_dir.rstrip("/")
        self.path = self.output_dir + CLAIM_SUFFIX
        self.record = ClaimRecord.mine(run_id)
        self.broken: ClaimRecord | None = None   # the gone run whose claim this run broke
        self._store = (_GcsClaimObject(self.path) if self.path.startswith("gs://")
                       else _LocalClaimFile(self.path))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Claims OUT, breaking a gone run's claim; raises ClaimError if a live run holds it."""
        text = self.record.text()
        for _attempt in range(3):
            try:
                if self._store.create(text):
                    self._start_refreshing()
                    return
                found = self._store.read()
            except OSError as error:
                raise ClaimError(os_error_message(self.output_dir, error)) from None
            if found is None:
                continue  # released between our create and our read: try again
            other = ClaimRecord.parse(found[0])
            if not other.is_gone(found[1]):
                raise ClaimError(
                    f"the output directory {self.output_dir} is claimed by "
                    f"{other.describe()}; wait for it to finish (or remove {self.path} "
                    "if you know that run is gone)")
            if self._store.delete(found[0]):
                self.broken = other
        raise ClaimError(f"the output directory {self.output_dir}: could not claim it "
                         f"({self.path} keeps changing hands)")

    def release(self) -> None:
        """Stops refreshing and removes the claim; never raises."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self._store.delete(self.record.text())
        except Exception:  # noqa: BLE001 - a leftover claim is broken by the next run
            pass

    def _start_refreshing(self) -> None:
        self._thread = threading.Thread(target=self._refresh_loop, name="featurecross-claim",
                                        daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            try:
                self._store.refresh()
            except Exception:  # noqa: BLE001 - try again at the next beat
                pass


def os_error_message(output_dir: str, error: OSError) -> str:
    """One line for an output location that cannot take files."""
    not_a_directory = "a part of that path is a regular file, not a directory"
    reasons = {errno.ENOTDIR: not_a_directory, errno.EEXIST: not_a_directory,  # makedirs
               errno.EROFS: "it is on a read-only file system",
               errno.EACCES: "permission denied",
               errno.EPERM: "permission denied",
               errno.ENOSPC: "no space left on the device"}
    reason = reasons.get(error.errno, error.strerror or str(error))
    return f"the output directory {output_dir} cannot be written: {reason}"


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]

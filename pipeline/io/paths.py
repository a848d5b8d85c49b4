"""Input paths as the file system layer sees them (docs/running.md "Paths").

A gs:// config is read through Beam's FileSystems, like the data. A
directory given as the input pattern is refused the same way with or
without its trailing slash: Beam would match nothing for `DIR` and every
file of every format for `DIR/`; the message says which pattern to write.
"""

from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems

from pipeline.config.paths import PathError, is_remote

_SUFFIXES = {"parquet": "*.parquet", "tfrecord": "*.tfrecord.gz"}


def read_text(path: str) -> str:
    """A small text file on any file system Beam reaches; OSError if it cannot."""
    try:
        with FileSystems.open(path) as handle:
            return handle.read().decode("utf-8")
    except OSError:
        raise
    except Exception as error:  # Beam's remote file systems raise their own errors
        raise OSError(f"{type(error).__name__}: {error}") from error


def check_not_directory(pattern: str, input_format: str, where: str = "the input") -> None:
    """Refuses a pattern that names a directory rather than its files."""
    if any(c in pattern for c in "*?["):
        return
    bare = pattern.rstrip("/")
    if is_remote(bare):  # an object store has no directories, only names under a prefix
        directory = pattern.endswith("/") or (not _matches(bare) and _matches(f"{bare}/*"))
    else:
        directory = pattern.endswith("/") or os.path.isdir(bare.removeprefix("file://"))
    if directory:
        raise PathError(f"{where} {pattern} is a directory; pass a pattern for its files, "
                        f"like '{bare}/{_SUFFIXES[input_format]}'")


def _matches(pattern: str) -> bool:
    try:
        return bool(FileSystems.match([pattern])[0].metadata_list)
    except Exception:  # noqa: BLE001 Beam raises when nothing matches on some file systems
        return False

"""Which paths featurecross can read and write (docs/running.md "Paths").

Local paths and `gs://` only: those are the file systems the job, tf.Transform
and the serving model all reach the same way. Any other scheme would fail deep
inside Beam or TensorFlow with a traceback, so it is refused up front, naming
the flag or key that holds it. Pure Python: the CLI checks before importing
anything heavy.
"""

from __future__ import annotations

import re

SUPPORTED_SCHEMES = ("gs",)  # besides local paths (plain, or file://)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class PathError(ValueError):
    """A path featurecross cannot use; the message names where it came from."""


def scheme(path: str) -> str | None:
    """`gs` for gs://bucket/x, None for a local path (file:// included)."""
    match = _SCHEME.match(path)
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def check_scheme(path: str | None, where: str) -> None:
    """Refuses a path on a file system featurecross does not support."""
    if path is None:
        return
    found = scheme(path)
    if found is not None and found not in SUPPORTED_SCHEMES:
        raise PathError(f"{where} {path}: the scheme '{found}://' is not supported; "
                        "use a local path or gs:// (docs/running.md \"Paths\")")


def is_remote(path: str) -> bool:
    return scheme(path) is not None

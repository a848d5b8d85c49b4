"""Small JSON files a pipeline step leaves in the run's directory for the driver.

Stats, drift counts, collision figures and vocabulary coverage are each
combined inside the pipeline and written as one file; the driver reads each
once, after the pipeline, and removes it, so OUT holds only what docs/outputs.md
"Output" lists. Paths go through `tf.io.gfile`, so gs:// run directories work too.
"""

from __future__ import annotations

import json
from typing import Any

_REQUIRED = object()


def write_json(value: Any, path: str) -> None:
    import tensorflow as tf
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(value))  # one write: json.dump writes per token


def take_json(path: str, missing: Any = _REQUIRED) -> Any:
    """Reads and removes `path`; returns `missing` instead when given and the file is absent."""
    import tensorflow as tf
    if missing is not _REQUIRED and not tf.io.gfile.exists(path):
        return missing
    with tf.io.gfile.GFile(path) as handle:
        value = json.load(handle)
    tf.io.gfile.remove(path)
    return value

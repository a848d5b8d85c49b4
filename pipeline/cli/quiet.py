"""Keeps TensorFlow's, absl's and Beam's chatter off the user's terminal.

Log levels are set before TensorFlow is imported; TF's C++ start-up lines
ignore them, so the import itself runs with stderr captured (and replayed
if the import fails).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings


def quiet_libraries() -> None:
    """Keeps TF, absl and Beam chatter below errors (must run before importing TF)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    # Beam logs a worker's exception before re-raising it to us; we report it once.
    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    _import_tensorflow_quietly()
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.ERROR)


def _import_tensorflow_quietly() -> None:
    """Imports TF with stderr captured; if the import fails, what it printed is passed on."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)

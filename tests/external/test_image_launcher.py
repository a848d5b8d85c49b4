"""The Flex Template's program run the way the launcher runs it (docs/dataflow.md "Running on
Dataflow"): `python FILE --name=value ...` on the DirectRunner, in a subprocess.

The static checks of the image and the template are tests/unit/test_image.py's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.io.publish import SUCCESS
from tests.support import REPO, SAMPLE_TFRECORD, tfrecord_content


@pytest.mark.external("the image's launcher run (a subprocess job)")
def test_the_template_program_runs_as_the_launcher_runs_it(flights_tfrecord_run, tmp_path):
    """`python FLEX_TEMPLATE_PYTHON_PY_FILE --name=value ...`: no subcommand, underscores."""
    config = json.loads((flights_tfrecord_run / "manifest.json").read_text())["config_path"]
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(REPO / "pipeline" / "cli" / "flex_template.py"), f"--config={config}",
         f"--input={SAMPLE_TFRECORD}", f"--output={out}",
         f"--transform_fn={flights_tfrecord_run}", "--on_invalid=quarantine",
         "--runner=DirectRunner"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / SUCCESS).is_file() and (out / "invalid").is_dir()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["transform_fn_from"] == str(flights_tfrecord_run)
    assert tfrecord_content(out) == tfrecord_content(flights_tfrecord_run)

"""The Python API (pipeline/api/): its docs page's examples run as written, and a run
from a fresh interpreter counts what the CLI counts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq

from pipeline import api
from tests.support import FLIGHTS_CONFIG, REPO, SAMPLE_PARQUET

PAGE = REPO / "docs" / "python-api.md"
FENCE = re.compile(r"^```python\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# Each block in a fresh namespace, in page order, in one fresh interpreter.
RUN_BLOCKS = """
import json, sys
for index, block in enumerate(json.load(sys.stdin)):
    print(f"--- block {index}", flush=True)
    exec(compile(block, f"docs/python-api.md block {index}", "exec"), {"__name__": "__main__"})
"""


def test_the_docs_examples_run():
    blocks = FENCE.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    done = subprocess.run([sys.executable, "-c", RUN_BLOCKS], input=json.dumps(blocks),
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.count("--- block") == len(blocks)
    assert "schema.x.type: is not a known value" in done.stdout  # the error example
    assert "featurecross: wrote out/starter.yaml" in done.stdout  # init's message


def test_a_fresh_interpreter_counts_what_the_cli_counts(flights_parquet_job, tmp_path):
    script = textwrap.dedent(f"""
        import dataclasses, json
        from pipeline import api
        summary = api.run({str(FLIGHTS_CONFIG)!r}, input={str(SAMPLE_PARQUET)!r},
                          output={str(tmp_path / "out")!r}, progress=False)
        print(json.dumps({{"type": type(summary).__name__, "read": summary.rows_read,
                          "written": summary.rows_written,
                          "quarantined": summary.rows_quarantined}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.splitlines()[-1])
    rows = pq.read_metadata(SAMPLE_PARQUET).num_rows
    assert counts == {"type": "RunSummary", "read": rows, "written": rows, "quarantined": 0}
    cli = flights_parquet_job.process.stdout
    for label, value in (("read", rows), ("written", rows), ("quarantined", 0)):
        assert f"rows {label}:{' ' * (12 - len(label))}{value:,}" in cli
    mine, theirs = api.open_output(str(tmp_path / "out")), api.open_output(
        str(flights_parquet_job.out))
    assert mine.manifest["rows"] == theirs.manifest["rows"]
    assert mine.table().num_rows == theirs.table().num_rows == rows  # TFRecord and Parquet

"""Every run serves a sample of its rows through its own serving/ before publishing.

README "Exit codes": a mismatch fails the run with exit code 3 and nothing is
published. The tampered graph below changes the route id of every 7th row,
so the sample of 1,000 rows must find exactly 143 rows that differ, all in
`route`.
"""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import tensorflow as tf

import pipeline.job.run
from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, run_cli

TAMPER_EVERY = 7


def test_a_run_records_its_passing_parity_sample(flights_parquet_run):
    manifest = json.loads((flights_parquet_run / "manifest.json").read_text())
    sample = manifest["parity_sample"]
    assert sample["status"] == "passed"
    assert sample["rows_requested"] == sample["rows_served"] == 1000
    assert sample["batch_rows_searched"] == 1000  # only the leading batch rows
    assert sample["unmatched_rows"] == 0 and sample["mismatching_rows"] == {}
    assert manifest["timings"]["parity_sample"] > 0


def _tamper(serving_dir: str) -> None:
    """Rewrites serving/ so that every 7th row's `route` id is off by one."""
    model = tf.saved_model.load(serving_dir)
    serve = model.signatures["serving_default"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def tampered(examples):
        outputs = dict(serve(examples=examples))
        route = outputs["route"]
        rows = tf.range(tf.shape(route, out_type=tf.int64)[0])
        outputs["route"] = tf.where(rows % TAMPER_EVERY == 3, (route + 1) % 10000, route)
        return outputs

    module = tf.Module()
    module.model, module.tampered = model, tampered
    tf.saved_model.save(module, serving_dir + ".tampered",
                        signatures={"serving_default": tampered})
    shutil.rmtree(serving_dir)
    shutil.move(serving_dir + ".tampered", serving_dir)


def test_the_parity_sample_catches_a_tampered_serving_graph(tmp_path, monkeypatch, capsys):
    export = pipeline.job.run.export_serving_model

    def export_then_tamper(config, transform_dir, serving_dir):
        export(config, transform_dir, serving_dir)
        _tamper(serving_dir)

    monkeypatch.setattr(pipeline.job.run, "export_serving_model", export_then_tamper)
    data = tmp_path / "flights.parquet"
    pq.write_table(pq.read_table(SAMPLE_PARQUET).slice(0, 3000), data)
    out = tmp_path / "out"
    code = run_cli("run", "--config", FLIGHTS_CONFIG, "--input", data, "--output", out)
    error = capsys.readouterr().err
    assert code == 3
    tampered_rows = len(range(3, 1000, TAMPER_EVERY))
    assert f"parity sample failed: {tampered_rows} of 1000 rows" in error
    assert f"route ({tampered_rows} rows)" in error and "nothing was published" in error
    assert not out.exists()
    assert not list(tmp_path.glob("out.tmp-*"))  # the staging directory is gone too

"""Vocabulary crosses (docs/config.md "Exact ids: vocabulary crosses").

The reference is a plain tf.Transform pipeline written here by hand, which
never touches the project: every raw column read as a sparse tensor (so
`tf.sparse.cross` sees the inputs in config order), crossed with
`tf.sparse.cross` and fed to `tft.compute_and_apply_vocabulary`. Our batch
output, transform-only output and serving (in a fresh process, with
transform_fn/ deleted) must give the same ids, the same OOV bucket ids and
the same vocabulary files. A brute-force count pins tf.Transform's order.
"""

from __future__ import annotations

import collections
import json
import shutil

import apache_beam as beam
import keras
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from pipeline.config import load_config
from pipeline.serving.verify import serve_in_fresh_process
from tests.support import NO_PARITY_SAMPLE, batch_rows, examples, run_cli, tensors_to_rows

ORIGINS = ["JFK", "LGA", "EWR", "東京", "a b", "x"]
DESTS = ["ATL", "ORD", "LAX", "SFO", "BOS", "MIA", "DEN", "SEA"]
CARRIERS = ["UA", "AA", "B6", "DL", "9E"]
TAGS = ["late", "early", "red-eye", "café", "", "two\nlines"]

# (name, inputs, vocabulary settings, output, sparse)
CROSSES = [
    ("route", ["origin", "dest"], {"top_k": 12, "frequency_threshold": 3,
                                   "num_oov_buckets": 7}, "int", False),
    ("carrier_x_hour", ["carrier", "hour"], {"frequency_threshold": 4,
                                             "num_oov_buckets": 3}, "int", False),
    ("carrier_x_tags", ["carrier", "tags"], {"top_k": 9, "num_oov_buckets": 4}, "int", False),
    ("tags_x_hour", ["tags", "hour"], {"top_k": 15, "num_oov_buckets": 2}, "int", False),
    ("carrier_x_origin_1h", ["carrier", "origin"], {"top_k": 6, "num_oov_buckets": 2},
     "one_hot", False),
    ("origin_x_tags_mh", ["origin", "tags"], {"top_k": 8, "num_oov_buckets": 3},
     "multi_hot", False),
    ("dest_x_tags_mh_sparse", ["dest", "tags"], {"top_k": 20, "num_oov_buckets": 5},
     "multi_hot", True),
    # keeps nothing: tf.Transform's placeholder line, every id an OOV bucket
    ("none_kept", ["carrier", "dest"], {"frequency_threshold": 10**6, "num_oov_buckets": 3},
     "int", False),
    # reads a vocabulary cross's ids, so the crosses before it are analysed first
    ("route_x_carrier", ["route", "carrier"], {"top_k": 10, "num_oov_buckets": 2}, "int",
     False),
]
SCHEMA = {"origin": ("string", False), "dest": ("string", False),
          "carrier": ("string", False), "hour": ("int", False), "tags": ("string", True)}
ROWS = 400


def make_rows(seed: int, rows: int = ROWS) -> list[dict]:
    """Skewed draws, so top_k and frequency_threshold both cut and counts tie."""
    rng = np.random.default_rng(seed)

    def pick(values: list, skew: float = 1.3):
        weights = 1.0 / np.arange(1, len(values) + 1) ** skew
        return values[rng.choice(len(values), p=weights / weights.sum())]

    return [{"origin": pick(ORIGINS), "dest": pick(DESTS), "carrier": pick(CARRIERS),
             "hour": int(pick(list(range(5, 24)), 0.8)),
             "tags": [pick(TAGS) for _ in range(int(rng.integers(0, 4)))]}
            for _ in range(rows)]


def write_rows(path, rows: list[dict]) -> None:
    schema = pa.schema([("origin", pa.string()), ("dest", pa.string()),
                        ("carrier", pa.string()), ("hour", pa.int64()),
                        ("tags", pa.list_(pa.string()))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def config_text() -> str:
    lines = ["input: {format: parquet}", "schema:"]
    for name, (kind, sequence) in SCHEMA.items():
        lines.append(f"  {name}: {{type: {kind}{', shape: sequence' if sequence else ''}}}")
    lines.append("features:")
    for name, inputs, settings, output, sparse in CROSSES:
        lines.append(f"  - name: {name}\n    cross: [{', '.join(inputs)}]\n"
                     f"    vocabulary: {json.dumps(settings)}\n    output: {output}\n"
                     f"    sparse: {str(sparse).lower()}")
    lines.append("output: {format: parquet}")
    return "\n".join(lines) + "\n"


def reference_fn(inputs: dict) -> dict:
    """What a TF user writes by hand: tf.sparse.cross strings into the vocabulary."""
    outputs = {}
    for name, columns, settings, _, _ in CROSSES:
        strings = tf.sparse.cross([{**inputs, **outputs}[c] for c in columns])
        outputs[name] = tft.compute_and_apply_vocabulary(
            strings, top_k=settings.get("top_k"),
            frequency_threshold=settings.get("frequency_threshold"),
            num_oov_buckets=settings.get("num_oov_buckets", 1), vocab_filename=name)
    return outputs


def reference_spec() -> dict:
    dtypes = {"string": tf.string, "int": tf.int64}
    return {name: tf.io.VarLenFeature(dtypes[kind]) for name, (kind, _) in SCHEMA.items()}


def run_reference(rows: list[dict], directory) -> None:
    instances = [{name: (row[name] if SCHEMA[name][1] else [row[name]]) for name in SCHEMA}
                 for row in rows]
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec(reference_spec()))
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(directory / "tmp")):
        transform_fn = ((pipeline | beam.Create(instances), metadata)
                        | tft_beam.AnalyzeDataset(reference_fn))
        _ = transform_fn | tft_beam.WriteTransformFn(str(directory / "ref"))


def reference_ids(directory, rows: list[dict]) -> dict[str, list[list[int]]]:
    """Per cross, the reference graph's ids of each row (in TF's product order)."""
    layer = tft.TFTransformOutput(str(directory / "ref")).transform_features_layer()
    tensors = {}
    for name, (kind, sequence) in SCHEMA.items():
        cells = [row[name] if sequence else [row[name]] for row in rows]
        flat = [v for cell in cells for v in cell]
        dtype = tf.string if kind == "string" else tf.int64
        tensors[name] = tf.RaggedTensor.from_row_lengths(
            tf.constant(flat, dtype, shape=[len(flat)]), [len(c) for c in cells]).to_sparse()
    outputs = layer(tensors)
    return {name: tf.RaggedTensor.from_sparse(outputs[name]).to_list() for name, *_ in CROSSES}


def encoded(ids: list[list[int]], width: int, output: str, sparse: bool) -> list:
    """Keras' CategoryEncoding of reference ids, in our stored form."""
    layer = keras.layers.CategoryEncoding(width, output_mode=output)
    dense = [np.asarray(layer(np.array(row))).reshape(-1).tolist() if row else [0.0] * width
             for row in ids]
    if not sparse:
        return dense
    return [([i for i, v in enumerate(row) if v], [v for v in row if v]) for row in dense]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One analysis run and one transform-only run (new rows) of the CLI, and the
    hand-built reference pipeline analysed on the same rows."""
    root = tmp_path_factory.mktemp("vocabulary")
    first, second = make_rows(1), make_rows(2, 150)
    write_rows(root / "first.parquet", first)
    write_rows(root / "second.parquet", second)
    config = root / "vocab.yaml"
    config.write_text(config_text())
    # test_serving_alone_equals_batch serves this run itself: no parity sample.
    assert run_cli("run", "--config", config, "--input", root / "first.parquet",
                   "--output", root / "out", *NO_PARITY_SAMPLE) == 0
    assert run_cli("run", "--config", config, "--input", root / "second.parquet",
                   "--output", root / "daily", "--transform-fn", root / "out") == 0
    run_reference(first, root)
    return {"root": root, "config": load_config(str(config)), "first": first,
            "second": second}


def check_against_reference(ours: dict, expected: dict[str, list[list[int]]], config) -> None:
    for feature in config.features:
        ids = expected[feature.name]
        if feature.output == "int":
            want = [row[0] for row in ids] if not feature.is_sequence else ids
        else:
            want = encoded(ids, feature.width, feature.output, feature.sparse)
        got = [list(v) if isinstance(v, tuple) else v for v in ours[feature.name]]
        want = [list(v) if isinstance(v, tuple) else v for v in want]
        assert got == want, feature.name


def test_batch_ids_equal_the_hand_built_tf_transform(runs):
    config, root = runs["config"], runs["root"]
    expected = reference_ids(root, runs["first"])
    check_against_reference(batch_rows(root / "out", config), expected, config)
    out_of_vocabulary = [row for row in expected["route"]
                         if row[0] >= tft.TFTransformOutput(str(root / "ref"))
                         .vocabulary_size_by_name("route")]
    assert out_of_vocabulary  # the OOV buckets are exercised, not just the kept ids


def test_transform_only_run_applies_the_frozen_vocabulary(runs):
    config, root = runs["config"], runs["root"]
    expected = reference_ids(root, runs["second"])
    check_against_reference(batch_rows(root / "daily", config), expected, config)


def test_vocabulary_files_equal_the_reference(runs):
    root = runs["root"]
    ours = tft.TFTransformOutput(str(root / "out"))
    theirs = tft.TFTransformOutput(str(root / "ref"))
    for name, *_ in CROSSES:
        with open(ours.vocabulary_file_by_name(f"vocabulary_{name}"), "rb") as mine, \
                open(theirs.vocabulary_file_by_name(name), "rb") as reference:
            assert mine.read() == reference.read(), name


def test_vocabulary_order_and_oov_buckets_follow_a_brute_force_count(runs):
    """Kept: count >= threshold, top_k by (count, bytes) descending; others hash."""
    root, rows = runs["root"], runs["first"]
    counts = collections.Counter(f"{row['origin']}_X_{row['dest']}".encode() for row in rows)
    ranked = sorted(((n, s) for s, n in counts.items() if n >= 3), reverse=True)[:12]
    output = tft.TFTransformOutput(str(root / "out"))
    kept = [line.rstrip(b"\n") for line in
            open(output.vocabulary_file_by_name("vocabulary_route"), "rb")]
    assert kept == [s for _, s in ranked]
    ids = batch_rows(root / "out", runs["config"])["route"]
    for row, got in zip(rows, ids):
        key = f"{row['origin']}_X_{row['dest']}".encode()
        want = (kept.index(key) if key in kept else
                len(kept) + int(tf.strings.to_hash_bucket_fast(key, 7)))
        assert got == want, key


def test_serving_alone_equals_batch(runs, tmp_path):
    """serving/ from a copy of OUT with transform_fn/ deleted, in a fresh process."""
    config, root = runs["config"], runs["root"]
    copy = tmp_path / "copy"
    shutil.copytree(root / "out", copy)
    shutil.rmtree(copy / "transform_fn")
    shutil.rmtree(copy / "transformed_metadata")
    assets = sorted(p.name for p in (copy / "serving" / "assets").iterdir())
    assert assets == sorted(f"vocabulary_{name}" for name, *_ in CROSSES)
    rows = runs["first"][:80]
    served = serve_in_fresh_process(str(copy / "serving"), examples(rows, config))
    from pipeline.transform.output_specs import output_feature_spec
    served_rows = tensors_to_rows(served, output_feature_spec(config), len(rows))
    batch = batch_rows(root / "out", config)
    for name, *_ in CROSSES:
        assert [list(v) if isinstance(v, tuple) else v for v in served_rows[name]] == \
               [list(v) if isinstance(v, tuple) else v for v in batch[name][:80]], name


def test_manifest_records_size_and_coverage(runs):
    root, rows = runs["root"], runs["first"]
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    entries = {f["name"]: f for f in manifest["features"]}
    output = tft.TFTransformOutput(str(root / "out"))
    reference = tft.TFTransformOutput(str(root / "ref"))
    for name, *_ in CROSSES:
        vocabulary = entries[name]["vocabulary"]
        assert vocabulary["size"] == output.vocabulary_size_by_name(f"vocabulary_{name}")
        assert vocabulary["size"] == reference.vocabulary_size_by_name(name), name
    route = entries["route"]["vocabulary"]
    kept = {line.rstrip(b"\n") for line in
            open(output.vocabulary_file_by_name("vocabulary_route"), "rb")}
    covered = sum(f"{r['origin']}_X_{r['dest']}".encode() in kept for r in rows)
    assert route["rows_in_vocabulary"] == covered
    assert route["row_coverage"] == pytest.approx(covered / len(rows), abs=1e-6)
    tags = entries["carrier_x_tags"]["vocabulary"]
    kept = {line.rstrip(b"\n") for line in
            open(output.vocabulary_file_by_name("vocabulary_carrier_x_tags"), "rb")}
    with_values = [r for r in rows if r["tags"]]
    all_kept = sum(all(f"{r['carrier']}_X_{t}".encode() in kept for t in r["tags"])
                   for r in with_values)
    assert (tags["rows_with_values"], tags["rows_in_vocabulary"]) == (len(with_values),
                                                                     all_kept)

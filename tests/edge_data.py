"""An edge-value data set, its config, and one shared run of the CLI on it.

The data (seeded, a few hundred rows) holds what tends to break hashing and
parsing: empty and non-ASCII strings, nulls in columns with a default,
int64 extremes, and string sequences that are null, empty, of length 1 or
long. `write_edge_set` writes it as Parquet and as gzip TFRecord of
tf.Examples (null cells left out); `write_edge_config` writes the config
that uses every transform kind on it; `run_edge_set` runs the CLI on it
(conftest.py's `edge_parquet_run` and `edge_tfrecord_run` share one run each
across the session).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
import yaml

from pipeline.config import parse_config
from tests.support import EDGE_INTS, EDGE_STRINGS, NO_PARITY_SAMPLE, run_cli, to_example

SEED_A, SEED_B = 20261120, 20261121
ROWS = 300
TAGS = ["", "東京", "café", "😀", "tag", "TAG", "t a g"] + [f"t{i}" for i in range(20)]
LONG_SEQUENCE = 30

CONFIG_TEMPLATE = """\
# Every transform kind on tests/edge_data.py's edge-value data set.
input:
  format: {input_format}
schema:
  row_id: {{type: int}}
  city:   {{type: string, default: "unknown"}}
  code:   {{type: int, default: -1}}
  price:  {{type: float, default: 0.5}}
  weight: {{type: float}}
  tags:   {{type: string, shape: sequence}}
features:
  - {{name: city_x_code, cross: [city, code], num_bins: 1000}}
  - {{name: code_x_city_keyed, cross: [code, city], num_bins: 100000, hash_key: 12345}}
  - {{name: tags_x_city, cross: [tags, city], num_bins: 5000}}
  - {{name: city_x_tags, cross: [city, tags], num_bins: 5000, hash_key: -1}}
  - {{name: city_tags_code, cross: [city, tags, code], num_bins: 100000,
     hash_key: 18446744073709551615}}
  - {{name: city_salted, hash: city, num_bins: 100, salt: [7, 11]}}
  - {{name: code_id, hash: code, num_bins: 1000}}
  - {{name: tag_ids, hash: tags, num_bins: 1000}}
  - {{name: tags_multi_hot, hash: tags, num_bins: 64, output: multi_hot}}
  - {{name: tags_multi_hot_sparse, hash: tags, num_bins: 10000, output: multi_hot,
     sparse: true}}
  - {{name: city_x_code_one_hot, cross: [city, code], num_bins: 300, output: one_hot,
     sparse: true, hash_key: 0}}
  - {{name: price_bucket, bucketize: price, num_buckets: 8}}
  - {{name: city_x_price, cross: [city, price_bucket], num_bins: 2000}}
  - {{name: weight_band, bucketize: weight, boundaries: [-10, 0, 0.5, 100]}}
  - {{name: code_band, bucketize: code, boundaries: [-1000, 0, 1000]}}
  - {{name: price_x_weight, product: [price, weight]}}
  - {{name: poly, polynomial: [price, weight, code], degree: 3, include_bias: true}}
keep: [row_id, city, price, tags]
output:
  format: {output_format}
"""


@dataclasses.dataclass(frozen=True)
class EdgeSet:
    parquet: pathlib.Path
    tfrecord: pathlib.Path
    rows: list[dict[str, Any]]


def edge_rows(seed: int, rows: int = ROWS) -> list[dict[str, Any]]:
    """Raw rows as Python values; None is a null cell."""
    rng = np.random.default_rng(seed)

    def maybe_null(value: Any, rate: float = 0.1) -> Any:
        return None if rng.random() < rate else value

    def tags() -> list[str] | None:
        kind = rng.choice(["null", "empty", "one", "long", "few"], p=[.1, .1, .3, .05, .45])
        length = {"null": 0, "empty": 0, "one": 1, "long": LONG_SEQUENCE}.get(
            kind, int(rng.integers(2, 6)))
        return None if kind == "null" else [str(rng.choice(TAGS)) for _ in range(length)]

    result = []
    for row_id in range(rows):
        weight = (float(rng.choice([0.0, -0.0, 1e-30, -10.0, 0.5, 100.0]))
                  if rng.random() < 0.2 else round(float(rng.normal(0, 50)), 3))
        result.append({
            "row_id": row_id,
            "city": maybe_null(str(rng.choice(EDGE_STRINGS))),
            "code": maybe_null(int(rng.choice(EDGE_INTS)) if rng.random() < 0.5
                               else int(rng.integers(-10**6, 10**6))),
            "price": maybe_null(round(float(rng.uniform(-2.0, 3.5)), 2)),
            "weight": weight,
            "tags": tags(),
        })
    # Make sure the extremes are there whatever the seed draws.
    result[0].update(city=None, code=None, price=None, tags=None)
    result[1].update(city="", code=-2**63, tags=[])
    result[2].update(city="東京", code=2**63 - 1, tags=["café"])
    result[3].update(city="😀🚀", code=-1, tags=[f"t{i % 7}" for i in range(LONG_SEQUENCE)])
    return result


ARROW_SCHEMA = pa.schema([("row_id", pa.int64()), ("city", pa.string()),
                          ("code", pa.int64()), ("price", pa.float64()),
                          ("weight", pa.float64()), ("tags", pa.list_(pa.string()))])


def write_edge_set(directory: pathlib.Path, *, seed: int = SEED_A,
                   rows: int = ROWS) -> EdgeSet:
    """Writes `edge.parquet` and `edge.tfrecord.gz` (same rows) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = edge_rows(seed, rows)
    parquet = directory / "edge.parquet"
    pq.write_table(pa.Table.from_pylist(data, schema=ARROW_SCHEMA), parquet)
    schema = parse_config(yaml.safe_load(edge_config_text())).schema
    tfrecord = directory / "edge.tfrecord.gz"
    with tf.io.TFRecordWriter(str(tfrecord), options="GZIP") as writer:
        for row in data:
            writer.write(to_example(row, schema))
    return EdgeSet(parquet, tfrecord, data)


def edge_config_text(*, input_format: str = "parquet", output_format: str = "parquet") -> str:
    return CONFIG_TEMPLATE.format(input_format=input_format, output_format=output_format)


def write_edge_config(path: pathlib.Path, **formats: str) -> pathlib.Path:
    path.write_text(edge_config_text(**formats), encoding="utf-8")
    return path


@dataclasses.dataclass(frozen=True)
class EdgeRun:
    out: pathlib.Path
    config: pathlib.Path
    data: EdgeSet


def run_edge_set(root: pathlib.Path, *, input_format: str = "parquet",
                 output_format: str = "parquet", seed: int = SEED_A) -> EdgeRun:
    """Writes the edge set and its config under `root` and runs the CLI on them.

    conftest.py shares one such run per format pair across the session;
    test_parity.py serves every row of it, so the run skips its parity sample.
    """
    data = write_edge_set(root / "input", seed=seed)
    config = write_edge_config(root / "edge.yaml", input_format=input_format,
                               output_format=output_format)
    source = data.parquet if input_format == "parquet" else data.tfrecord
    out = root / "out"
    assert run_cli("run", "--config", config, "--input", source, "--output", out,
                   *NO_PARITY_SAMPLE) == 0
    return EdgeRun(out, config, data)

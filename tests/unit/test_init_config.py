"""`featurecross init` (pipeline/explore/init_config.py): the starter config's choices
match the data, figures computed here with pandas; it loads and passes the schema.
(tests/jobs/test_init_run.py runs it.)"""

from __future__ import annotations

import jsonschema
import pandas as pd
import pytest
import tensorflow as tf
import yaml

from pipeline.config import load_config
from pipeline.config.model import COLUMN_TYPES
from pipeline.config.schema import json_schema
from pipeline.explore.init_config import (
    CATEGORICAL_INT_MAX,
    CROSS_MAX_DISTINCT,
    HASH_BINS_PER_VALUE,
    init_config,
)
from tests.support import run_cli, user_table


@pytest.fixture(scope="module")
def table():
    return user_table()


@pytest.fixture(scope="module")
def started(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("init")
    table.to_parquet(folder / "part-0.parquet", row_group_size=1000)
    result = init_config(str(folder / "*.parquet"), label="clicked",
                         output=str(folder / "starter.yaml"))
    return result, yaml.safe_load(result.text), load_config(result.path)


def test_every_column_is_declared_with_its_type(started):
    _, raw, config = started
    types = {name: (c.type, c.shape) for name, c in config.schema.items()}
    expected = {"city": ("string", "scalar"), "device": ("string", "scalar"),  # categorical
                "user": ("string", "scalar"), "age": ("int", "scalar"),
                "hour": ("int", "scalar"), "price": ("float", "scalar"),
                "tags": ("string", "sequence"), "clicked": ("int", "scalar")}
    if "bool" in COLUMN_TYPES:
        expected["premium"] = ("bool", "scalar")
    assert types == expected
    if "bool" not in COLUMN_TYPES:
        assert "# premium: skipped: booleans have no config type" in started[0].text


def test_defaults_exactly_where_the_sample_has_nulls(started, table):
    result, _, config = started
    nullable = {name for name in table.columns if table[name].isna().any()
                and name != "tags" and name != "premium"}
    assert nullable == {"city", "age"}
    assert {name for name, c in config.schema.items() if c.has_default} == nullable
    assert config.schema["city"].default == "" and config.schema["age"].default == 0
    share = table["city"].isna().mean()
    assert f"{share:.1%} null in the sample" in result.text


def test_categories_are_hashed_and_numbers_bucketized(started, table):
    _, _, config = started
    features = {f.inputs[0]: f for f in config.features if not f.generated_by}
    assert {name: f.kind for name, f in features.items()} == {
        "city": "hash", "device": "hash", "user": "hash", "hour": "hash", "tags": "hash",
        "age": "bucketize", "price": "bucketize"}
    assert table["hour"].nunique() <= CATEGORICAL_INT_MAX < table["age"].nunique()
    for name in ("city", "device", "user", "hour"):
        distinct = table[name].nunique() + int(table[name].isna().any())
        assert features[name].num_bins >= HASH_BINS_PER_VALUE * distinct
        assert features[name].num_bins & (features[name].num_bins - 1) == 0  # a power of 2
    assert features["age"].num_buckets == features["price"].num_buckets == 10


def test_crosses_over_the_categories_a_cross_can_use(started, table):
    _, raw, config = started
    (entry,) = raw["crosses"]
    assert entry["all_of"] == ["city", "device", "hour"]
    assert table["user"].nunique() > CROSS_MAX_DISTINCT  # an id: not crossed
    assert entry["num_bins"] == "auto" and 0 < entry["max_collision_rate"] < 1
    generated = [f.name for f in config.features if f.generated_by]
    assert generated == ["city_x_device", "city_x_hour", "device_x_hour"]


def test_the_label_is_kept_and_never_a_feature(started):
    _, raw, config = started
    assert config.keep == ("clicked",)
    assert all("clicked" not in f.inputs for f in config.features)


def test_the_starter_passes_the_schema_and_says_what_next(started):
    result, raw, _ = started
    jsonschema.validate(raw, json_schema())
    assert result.text.startswith("# yaml-language-server: $schema=")
    message = result.message()
    for command in ("validate", "run", "suggest"):
        assert f"featurecross {command} --config {result.path}" in message
    assert "--label clicked" in message


def test_tfrecord_examples_give_the_same_types(table, tmp_path):
    path = tmp_path / "rows.tfrecord"
    frame = table.drop(columns=["device", "premium"])
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in frame.itertuples(index=False):
            feature = {}
            for name, value in zip(frame.columns, row):
                values = (value if isinstance(value, list)
                          else [] if pd.isna(value) else [value])
                if name in ("city", "user", "tags"):
                    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[v.encode() for v in values]))
                elif name == "price":
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
                else:
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(
                        value=[int(v) for v in values]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    result = init_config(str(path), output=str(tmp_path / "c.yaml"))
    config = load_config(result.path)
    assert config.input_format == "tfrecord"
    assert {n: (c.type, c.shape, c.has_default) for n, c in config.schema.items()} == {
        "age": ("int", "scalar", True), "city": ("string", "scalar", True),
        "clicked": ("int", "scalar", False), "hour": ("int", "scalar", False),
        "price": ("float", "scalar", False), "tags": ("string", "sequence", False),
        "user": ("string", "scalar", False)}


def test_user_errors_exit_2_with_one_line(table, tmp_path, capsys):
    table.to_parquet(tmp_path / "t.parquet")
    assert run_cli("init", "--input", tmp_path / "t.parquet", "--label", "clickd",
                   "--output", tmp_path / "c.yaml") == 2
    assert "'clickd' is not a column" in capsys.readouterr().err
    (tmp_path / "there.yaml").write_text("x")
    assert run_cli("init", "--input", tmp_path / "t.parquet",
                   "--output", tmp_path / "there.yaml") == 2
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1
    assert run_cli("init", "--input", tmp_path / "none*.parquet") == 2

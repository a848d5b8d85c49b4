"""Config loading and validation (docs/config.md "A config").

Every rejected config must name the file, the key path and the problem, and
end with a Keras-style `Received: name=value` when there is a value (a
missing key or an unreadable file has none), so each failure mode gets its
own short test that pins those parts of the message.
"""

from __future__ import annotations

import copy
import pathlib
import re

import numpy as np
import pytest
import yaml
from sklearn.preprocessing import PolynomialFeatures

from pipeline.config import ConfigError, load_config
from tests.support import FLIGHTS_CONFIG

BASE_CONFIG = {
    "input": {"format": "parquet", "pattern": "data/*.parquet"},
    "schema": {
        "carrier": {"type": "string"},
        "origin": {"type": "string"},
        "hour": {"type": "int"},
        "distance": {"type": "float"},
        "tokens": {"type": "string", "shape": "sequence"},
    },
    "features": [{"name": "route", "cross": ["carrier", "origin"], "num_bins": 100}],
    "keep": ["carrier"],
    "output": {"dir": "out", "format": "tfrecord"},
}


def make_config(*features: dict, **sections) -> dict:
    """BASE_CONFIG with its features (if any given) and top-level sections replaced."""
    config = copy.deepcopy(BASE_CONFIG)
    if features:
        config["features"] = list(features)
    config.update(sections)
    return config


def with_schema(**columns: dict) -> dict:
    return make_config(schema={**BASE_CONFIG["schema"], **columns})


def write_config(tmp_path: pathlib.Path, config: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def assert_rejected(path: str, key: str, fragment: str, *, received: bool = True) -> str:
    """load_config(path) fails naming the file, the key path and the problem; the message."""
    name = key.rsplit(".", 1)[-1]
    pattern = rf"(?s)^{re.escape(path)}: {re.escape(key)}: .*{re.escape(fragment)}"
    if received:
        pattern += rf".* Received: {re.escape(name)}=.+$"
    with pytest.raises(ConfigError, match=pattern) as raised:
        load_config(path)
    message = str(raised.value)
    if not received:
        assert "Received" not in message
    return message


def assert_config_rejected(tmp_path: pathlib.Path, config: dict, key: str,
                           fragment: str, **options) -> str:
    return assert_rejected(write_config(tmp_path, config), key, fragment, **options)


def sklearn_term_names(inputs: list[str], **options) -> list[str]:
    """PolynomialFeatures' names, rewritten from `a b` / `a^2` to `a*b` / `a^2`."""
    poly = PolynomialFeatures(**options).fit(np.zeros((1, len(inputs))))
    return [name.replace(" ", "*") for name in poly.get_feature_names_out(inputs)]


# Configs that load.

def test_flights_config_loads():
    config = load_config(str(FLIGHTS_CONFIG))
    assert [f.name for f in config.features] == [
        "route", "carrier_x_hour", "tailnum_id", "carrier_id", "distance_bucket",
        "origin_x_distance", "month_season", "delay_x_distance", "delays_poly"]
    assert config.input_format == "parquet"
    assert config.output_format == "tfrecord"
    assert config.keep == ("carrier", "origin", "dest")
    assert config.schema["tailnum"].default == ""
    assert config.schema["dep_delay"].default == 0.0
    assert config.needs_analysis


def test_flights_polynomial_terms_follow_sklearn_order():
    poly = {f.name: f for f in load_config(str(FLIGHTS_CONFIG)).features}["delays_poly"]
    expected = sklearn_term_names(list(poly.inputs), degree=2, interaction_only=True,
                                  include_bias=False)
    assert poly.polynomial_term_names() == expected
    assert "dep_delay*arr_delay" in expected


@pytest.mark.parametrize("degree, interaction_only, include_bias", [
    (2, False, True), (3, False, False), (3, True, True), (1, False, True),
], ids=["deg2_bias", "deg3_powers", "deg3_interactions_bias", "deg1"])
def test_polynomial_terms_follow_sklearn_order(tmp_path, degree, interaction_only,
                                               include_bias):
    inputs = ["hour", "distance", "delay"]
    config = with_schema(delay={"type": "float"})
    config["features"] = [{"name": "poly", "polynomial": inputs, "degree": degree,
                           "interaction_only": interaction_only,
                           "include_bias": include_bias}]
    feature = load_config(write_config(tmp_path, config)).features[0]
    assert feature.polynomial_term_names() == sklearn_term_names(
        inputs, degree=degree, interaction_only=interaction_only, include_bias=include_bias)


@pytest.mark.parametrize("feature, expected", [
    ({"name": "d", "bucketize": "distance", "num_buckets": 10}, True),
    ({"name": "d", "bucketize": "distance", "boundaries": [100, 500]}, False),
    ({"name": "c", "hash": "carrier", "num_bins": 10}, False),
], ids=["quantile_bucketize", "explicit_boundaries", "hash_only"])
def test_needs_analysis(tmp_path, feature, expected):
    config = load_config(write_config(tmp_path, make_config(feature)))
    assert config.needs_analysis is expected


def test_cross_hash_key_defaults_to_tf_default(tmp_path):
    feature = load_config(write_config(tmp_path, make_config())).features[0]
    assert feature.hash_key == feature.applied_hash_key == 0xDECAFCAFFE


@pytest.mark.parametrize("given, applied", [
    (0, 0xDECAFCAFFE), (1, 1), (-1, -1), (-2**63, -2**63), (2**63 - 1, 2**63 - 1),
    (2**63, -2**63), (2**64 - 1, -1),
])
def test_cross_hash_key_takes_any_64_bit_value(tmp_path, given, applied):
    """docs/config.md "Crosses and input order": 0 is TF's default key; unsigned spellings
    are the same 64 bits."""
    config = make_config({"name": "c", "cross": ["carrier", "origin"], "num_bins": 10,
                          "hash_key": given})
    feature = load_config(write_config(tmp_path, config)).features[0]
    assert (feature.hash_key, feature.applied_hash_key) == (given, applied)


@pytest.mark.parametrize("salt, expected", [(42, (42, 42)), ([1, 2], (1, 2)), (None, None)],
                         ids=["int_repeated", "pair_kept", "null"])
def test_salt_follows_keras(tmp_path, salt, expected):
    feature = {"name": "c", "hash": "carrier", "num_bins": 10, "salt": salt}
    assert load_config(write_config(tmp_path, make_config(feature))).features[0].salt == expected


@pytest.mark.parametrize("output", ["one_hot", "multi_hot"])
def test_sparse_allows_output_wider_than_dense_limit(tmp_path, output):
    feature = {"name": "c", "hash": "carrier", "num_bins": 5000, "output": output,
               "sparse": True}
    loaded = load_config(write_config(tmp_path, make_config(feature))).features[0]
    assert (loaded.output, loaded.sparse, loaded.width) == (output, True, 5000)


# Configs that are rejected: one test per failure mode.

def test_unknown_top_level_key(tmp_path):
    config = make_config(featurs=[])
    del config["features"]
    assert_config_rejected(tmp_path, config, "featurs", "unknown key. Allowed: input, schema, "
                           "features, crosses, keep, output, drift. Did you mean 'features'?")


def test_unknown_feature_key(tmp_path):
    feature = {"name": "route", "cross": ["carrier", "origin"], "num_bin": 100}
    assert_config_rejected(tmp_path, make_config(feature), "features[0].num_bin",
                           "unknown key. Allowed: name, cross, num_bins, max_collision_rate, "
                           "hash_key, vocabulary, output, sparse. Did you mean 'num_bins'?")


def test_an_unknown_key_far_from_every_allowed_one_gets_no_guess(tmp_path):
    message = assert_config_rejected(tmp_path, make_config(zzz=1), "zzz", "unknown key")
    assert "Did you mean" not in message


def test_unknown_input_name(tmp_path):
    feature = {"name": "route", "cross": ["carrier", "orign"], "num_bins": 100}
    assert_config_rejected(tmp_path, make_config(feature), "features[0].cross[1]",
                           "is neither a schema column nor an earlier feature. Allowed: "
                           "carrier, origin, hour, distance, tokens. Did you mean 'origin'?")


def test_unknown_value_gets_the_closest_choice(tmp_path):
    assert_config_rejected(tmp_path, with_schema(dest={"type": "strng"}), "schema.dest.type",
                           "is not a known value. Allowed: string | int | float | bool. "
                           "Did you mean 'string'?")


@pytest.mark.parametrize("config, key", [
    (make_config({"name": "c", "hash": "carrier"}), "features[0].num_bins"),
    (with_schema(dest={"default": "x"}), "schema.dest.type"),
    (make_config({"hash": "carrier", "num_bins": 10}), "features[0].name"),
], ids=["num_bins", "column_type", "feature_name"])
def test_a_missing_key_is_named_without_a_received_value(tmp_path, config, key):
    assert_config_rejected(tmp_path, config, key, "is required.", received=False)


def test_feature_used_before_it_is_defined(tmp_path):
    config = make_config({"name": "x", "cross": ["origin", "carrier_id"], "num_bins": 100},
                         {"name": "carrier_id", "hash": "carrier", "num_bins": 10})
    assert_config_rejected(tmp_path, config, "features[0].cross[1]",
                           "is a feature defined further down")


def test_duplicate_feature_name(tmp_path):
    feature = {"name": "route", "hash": "carrier", "num_bins": 10}
    assert_config_rejected(tmp_path, make_config(BASE_CONFIG["features"][0], feature),
                           "features[1].name", "duplicate name")


def test_feature_name_duplicates_schema_column(tmp_path):
    feature = {"name": "carrier", "hash": "carrier", "num_bins": 10}
    assert_config_rejected(tmp_path, make_config(feature), "features[0].name", "duplicate name")


@pytest.mark.parametrize("feature", [
    {"name": "c", "hash": "carrier", "num_bins": 1},
    {"name": "c", "cross": ["carrier", "origin"], "num_bins": 1},
], ids=["hash", "cross"])
def test_num_bins_below_two(tmp_path, feature):
    assert_config_rejected(tmp_path, make_config(feature), "features[0].num_bins",
                           "must be at least 2")


def test_cross_with_one_input(tmp_path):
    feature = {"name": "c", "cross": ["carrier"], "num_bins": 10}
    assert_config_rejected(tmp_path, make_config(feature), "features[0].cross",
                           "needs at least 2 inputs")


@pytest.mark.parametrize("feature, key", [
    ({"name": "c", "cross": ["carrier", "distance"], "num_bins": 10}, "features[0].cross[1]"),
    ({"name": "c", "hash": "distance", "num_bins": 10}, "features[0].hash"),
], ids=["cross", "hash"])
def test_float_column_as_categorical_input(tmp_path, feature, key):
    assert_config_rejected(tmp_path, make_config(feature), key,
                           "a float column cannot be a categorical input")


@pytest.mark.parametrize("output", ["one_hot", "multi_hot"])
def test_dense_output_wider_than_limit(tmp_path, output):
    feature = {"name": "c", "hash": "carrier", "num_bins": 4097, "output": output}
    assert_config_rejected(tmp_path, make_config(feature), "features[0].output",
                           "wider than 4096 bins")


def feature_with(**settings) -> dict:
    return make_config({"name": "c", "hash": "carrier", "num_bins": 10, **settings})


@pytest.mark.parametrize("config, key, fragment", [
    (feature_with(num_bins="many"), "features[0].num_bins", "must be an integer"),
    (feature_with(num_bins=True), "features[0].num_bins", "must be an integer"),
    (make_config({"name": "c", "cross": ["carrier", "origin"], "num_bins": 10,
                  "hash_key": 2**64}), "features[0].hash_key", "must fit in 64 bits"),
    (make_config({"name": "c", "cross": ["carrier", "origin"], "num_bins": 10,
                  "hash_key": -2**63 - 1}), "features[0].hash_key", "must fit in 64 bits"),
    (make_config({"name": "c", "cross": ["carrier", "origin"], "num_bins": 10,
                  "hash_key": "0xDECAFCAFFE"}), "features[0].hash_key", "must be an integer"),
    (feature_with(salt=[1, 2, 3]), "features[0].salt", "is not a valid salt"),
    (feature_with(salt=2**63), "features[0].salt", "is not a valid salt"),
    (make_config({"name": "d", "bucketize": "distance", "boundaries": [5, 1]}),
     "features[0].boundaries", "strictly increasing"),
    (with_schema(dest={"type": "str"}), "schema.dest.type", "is not a known value"),
    (with_schema(hour={"type": "int", "default": "noon"}), "schema.hour.default",
     "must be an int value"),
    (make_config(input={"format": "csv"}), "input.format", "is not a known value"),
    (make_config(output={"format": "json"}), "output.format", "is not a known value"),
    (feature_with(output="embedding"), "features[0].output", "is not a known value"),
    (feature_with(sparse=True), "features[0].sparse", "applies to one_hot and multi_hot only"),
    (make_config(keep=[{"carrier": 1}]), "keep[0]", "is not a schema column"),
], ids=["num_bins_string", "num_bins_bool", "hash_key_above_uint64",
        "hash_key_below_int64", "hash_key_quoted", "salt_wrong_shape", "salt_above_int64",
        "boundaries_not_increasing", "schema_type_unknown", "default_wrong_type",
        "input_format_unknown", "output_format_unknown", "output_mode_unknown",
        "sparse_with_int_output", "keep_item_not_a_string"])
def test_bad_type(tmp_path, config, key, fragment):
    assert_config_rejected(tmp_path, config, key, fragment)


@pytest.mark.parametrize("feature", [
    {"name": "c", "hash": "carrier", "cross": ["carrier", "origin"], "num_bins": 10},
    {"name": "c", "num_bins": 10},
    {"name": "c", True: "carrier"},  # YAML 1.1 reads a bare `on:` key as true
], ids=["two", "none", "none_non_string_key"])
def test_feature_needs_exactly_one_transform(tmp_path, feature):
    assert_config_rejected(tmp_path, make_config(feature), "features[0]",
                           "needs exactly one transform key")


def test_bucketize_with_num_buckets_and_boundaries(tmp_path):
    feature = {"name": "d", "bucketize": "distance", "num_buckets": 4, "boundaries": [1, 2]}
    assert_config_rejected(tmp_path, make_config(feature), "features[0]",
                           "exactly one of num_buckets or boundaries")


def test_one_hot_on_sequence_input(tmp_path):
    feature = {"name": "t", "hash": "tokens", "num_bins": 10, "output": "one_hot"}
    assert_config_rejected(tmp_path, make_config(feature), "features[0].output",
                           "one_hot needs a scalar feature")


def test_sequence_column_with_default(tmp_path):
    config = with_schema(tokens={"type": "string", "shape": "sequence", "default": ""})
    assert_config_rejected(tmp_path, config, "schema.tokens.default",
                           "sequence columns take no default")


def test_keep_names_unknown_column(tmp_path):
    assert_config_rejected(tmp_path, make_config(keep=["carrier", "dest"]), "keep[1]",
                           "is not a schema column")


def test_missing_file(tmp_path):
    assert_rejected(str(tmp_path / "missing.yaml"), "<file>", "cannot read the file",
                    received=False)


def test_invalid_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("input: {format: parquet\nschema: [\n")
    assert_rejected(str(path), "<file>", "is not valid YAML", received=False)


# The drift block (docs/running.md "Drift against the frozen analysis").

def test_drift_thresholds_apply_globally_and_per_feature(tmp_path):
    bucket = {"name": "distance_bucket", "bucketize": "distance", "num_buckets": 4}
    config = load_config(write_config(tmp_path, make_config(
        BASE_CONFIG["features"][0], bucket,
        drift={"max_unseen_rate": 0.1, "features": {"distance_bucket": {"max_psi": 0.05}}})))
    assert config.drift.gate
    assert config.drift.for_feature("route") == {"max_unseen_rate": 0.1, "max_psi": 0.2}
    assert config.drift.for_feature("distance_bucket") == {"max_unseen_rate": 0.1,
                                                           "max_psi": 0.05}
    assert not load_config(write_config(tmp_path, make_config())).drift.gate


@pytest.mark.parametrize("drift,key,fragment", [
    ({"max_unseen": 0.1}, "drift.max_unseen", "unknown key"),
    ({"max_unseen_rate": 1.5}, "drift.max_unseen_rate", "is a share of rows"),
    ({"max_psi": 0}, "drift.max_psi", "must be positive"),
    ({"max_psi": "high"}, "drift.max_psi", "must be a number"),
    ({"features": {"nope": {"max_psi": 0.1}}}, "drift.features.nope", "unknown key"),
    ({"features": {"route": {"max_rate": 0.1}}}, "drift.features.route.max_rate",
     "unknown key"),
])
def test_bad_drift_block(tmp_path, drift, key, fragment):
    assert_config_rejected(tmp_path, make_config(drift=drift), key, fragment)


def test_drift_unseen_rate_is_for_hashed_features_only(tmp_path):
    bucket = {"name": "distance_bucket", "bucketize": "distance", "num_buckets": 4}
    config = make_config(BASE_CONFIG["features"][0], bucket, drift={
        "features": {"distance_bucket": {"max_unseen_rate": 0.1}}})
    assert_config_rejected(tmp_path, config, "drift.features.distance_bucket.max_unseen_rate",
                           "unknown key")

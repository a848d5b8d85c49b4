"""`vocabulary:` crosses and the `crosses:` shorthand in the config (docs/config.md
"Exact ids: vocabulary crosses" and "All pairs: the crosses: shorthand")."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from pipeline.config import ConfigError, Vocabulary, load_config
from tests.support import run_cli
from tests.unit.test_config import (
    BASE_CONFIG,
    assert_config_rejected,
    make_config,
    with_schema,
    write_config,
)

COLUMNS = ["carrier", "origin", "hour", "tokens"]


def vocabulary_cross(**settings) -> dict:
    return {"name": "route", "cross": ["carrier", "origin"], **settings}


def shorthand(*entries: dict, features=None) -> dict:
    config = make_config(crosses=list(entries))
    if features is None:
        del config["features"]
    else:
        config["features"] = features
    return config


# vocabulary crosses

def test_vocabulary_cross_loads(tmp_path):
    config = make_config(vocabulary_cross(vocabulary={"top_k": 50, "frequency_threshold": 5,
                                                      "num_oov_buckets": 10}))
    feature = load_config(write_config(tmp_path, config)).features[0]
    assert feature.vocabulary == Vocabulary(top_k=50, frequency_threshold=5,
                                            num_oov_buckets=10)
    assert feature.width == 60 and feature.num_bins is None


def test_vocabulary_defaults_and_analysis(tmp_path):
    config = load_config(write_config(tmp_path, make_config(vocabulary_cross(vocabulary={}))))
    assert config.features[0].vocabulary == Vocabulary(None, None, 1)
    assert config.needs_analysis and config.analyzers == ["vocabularies"]


@pytest.mark.parametrize("feature, key, fragment", [
    (vocabulary_cross(vocabulary={"top_k": 5}, num_bins=10), "features[0].num_bins",
     "applies to hashed crosses only"),
    (vocabulary_cross(vocabulary={"top_k": 5}, hash_key=7), "features[0].hash_key",
     "applies to hashed crosses only"),
    (vocabulary_cross(vocabulary={"top": 5}), "features[0].vocabulary.top",
     "unknown key"),
    (vocabulary_cross(vocabulary={"top_k": 0}), "features[0].vocabulary.top_k",
     "must be at least 1"),
    (vocabulary_cross(vocabulary={"frequency_threshold": "often"}),
     "features[0].vocabulary.frequency_threshold", "must be an integer"),
    (vocabulary_cross(vocabulary={"num_oov_buckets": 0}),
     "features[0].vocabulary.num_oov_buckets", "must be at least 1"),
    (vocabulary_cross(vocabulary=[5]), "features[0].vocabulary", "must be a mapping"),
    (vocabulary_cross(vocabulary={}, output="one_hot"), "features[0].output",
     "needs vocabulary.top_k"),
    (vocabulary_cross(vocabulary={"top_k": 4096, "num_oov_buckets": 1}, output="multi_hot"),
     "features[0].output", "wider than 4096 bins"),
    ({"name": "t", "hash": "carrier", "vocabulary": {}}, "features[0].vocabulary",
     "unknown key"),
], ids=["with_num_bins", "with_hash_key", "unknown_setting", "top_k_zero",
        "threshold_not_int", "no_oov_bucket", "not_a_mapping", "one_hot_without_top_k",
        "dense_too_wide", "on_a_hash"])
def test_bad_vocabulary(tmp_path, feature, key, fragment):
    assert_config_rejected(tmp_path, make_config(feature), key, fragment)


# crosses: shorthand

def test_pairs_expand_in_stable_order(tmp_path):
    config = load_config(write_config(tmp_path, shorthand(
        {"all_of": ["carrier", "origin", "hour"], "num_bins": 1000})))
    names = [f.name for f in config.features]
    assert names == ["carrier_x_origin", "carrier_x_hour", "origin_x_hour"]
    assert [f.inputs for f in config.features] == [
        tuple(c) for c in itertools.combinations(["carrier", "origin", "hour"], 2)]
    assert {(f.kind, f.num_bins, f.generated_by) for f in config.features} == {
        ("cross", 1000, "crosses[0]")}


def test_degrees_two_and_three_after_declared_features(tmp_path):
    config = load_config(write_config(tmp_path, shorthand(
        {"all_of": COLUMNS, "degree": [3, 2], "vocabulary": {"top_k": 10}},
        features=BASE_CONFIG["features"])))
    generated = [f for f in config.features if f.generated_by]
    pairs = list(itertools.combinations(COLUMNS, 2))
    triples = list(itertools.combinations(COLUMNS, 3))
    assert [f.inputs for f in generated] == [tuple(c) for c in pairs + triples]
    assert generated[-1].name == "origin_x_hour_x_tokens"
    assert config.features[0].name == "route"  # declared features come first
    assert all(f.vocabulary == Vocabulary(top_k=10) for f in generated)
    assert generated[2].is_sequence and not generated[0].is_sequence


def test_shorthand_passes_settings_through(tmp_path):
    config = load_config(write_config(tmp_path, shorthand(
        {"all_of": ["carrier", "origin"], "num_bins": 64, "hash_key": 9,
         "output": "multi_hot", "sparse": True})))
    feature = config.features[0]
    assert (feature.hash_key, feature.output, feature.sparse) == (9, "multi_hot", True)


def test_shorthand_may_use_declared_features(tmp_path):
    config = load_config(write_config(tmp_path, shorthand(
        {"all_of": ["origin", "distance_bucket"], "num_bins": 100},
        features=[{"name": "distance_bucket", "bucketize": "distance",
                   "boundaries": [100, 500]}])))
    assert config.features[-1].name == "origin_x_distance_bucket"


def test_validate_prints_the_expansion(tmp_path, capsys):
    path = write_config(tmp_path, shorthand({"all_of": ["carrier", "origin", "hour"],
                                             "num_bins": 1000}))
    assert run_cli("validate", "--config", path) == 0
    printed = capsys.readouterr().out
    assert ("crosses[0] expands to 3 crosses: carrier_x_origin, carrier_x_hour, "
            "origin_x_hour") in printed
    assert "  origin_x_hour: cross origin x hour -> 1000 bins" in printed


def test_num_bins_auto_passes_through_to_the_expanded_features(tmp_path):
    """`auto` is the expanded cross's business: however cross features take it,
    the shorthand gives the same result (a loaded config or the same error)."""
    declared = make_config({"name": "carrier_x_origin", "cross": ["carrier", "origin"],
                            "num_bins": "auto"})
    generated = shorthand({"all_of": ["carrier", "origin"], "num_bins": "auto"})
    outcomes = []
    for index, config in enumerate((declared, generated)):
        directory = tmp_path / str(index)
        directory.mkdir()
        try:
            feature = load_config(write_config(directory, config)).features[0]
            outcomes.append(dataclasses.replace(feature, generated_by=None))
        except ConfigError as error:
            outcomes.append(str(error).split(": ", 2)[2])
    assert outcomes[0] == outcomes[1]


def test_clash_with_a_declared_feature(tmp_path):
    config = shorthand({"all_of": ["carrier", "origin"], "num_bins": 10},
                       features=[{"name": "carrier_x_origin", "hash": "carrier",
                                  "num_bins": 10}])
    assert_config_rejected(tmp_path, config, "crosses[0].all_of",
                           "generates the feature 'carrier_x_origin', but "
                           "features[0].name already uses that name")


def test_clash_with_a_column(tmp_path):
    config = with_schema(carrier_x_origin={"type": "string"})
    config["crosses"] = [{"all_of": ["carrier", "origin"], "num_bins": 10}]
    assert_config_rejected(tmp_path, config, "crosses[0].all_of",
                           "but schema.carrier_x_origin already uses that name")


def test_clash_between_two_entries(tmp_path):
    config = shorthand({"all_of": ["carrier", "origin"], "num_bins": 10},
                       {"all_of": ["carrier", "origin", "hour"], "num_bins": 20})
    assert_config_rejected(tmp_path, config, "crosses[1].all_of",
                           "but crosses[0] (carrier_x_origin) already uses that name")


@pytest.mark.parametrize("entry, key, fragment", [
    ({"all_of": ["carrier"], "num_bins": 10}, "crosses[0].all_of", "at least 2 input names"),
    ({"all_of": ["carrier", "carrier"], "num_bins": 10}, "crosses[0].all_of",
     "lists a name twice"),
    ({"all_of": ["carrier", "dest"], "num_bins": 10}, "crosses[0].all_of[1]",
     "is neither a schema column nor a declared feature"),
    ({"all_of": ["carrier", "distance"], "num_bins": 10}, "crosses[0].all_of[1]",
     "a float column cannot be a categorical input"),
    ({"all_of": ["carrier", "origin"], "degree": 3, "num_bins": 10}, "crosses[0].degree",
     "is not a valid cross degree"),
    ({"all_of": ["carrier", "origin", "hour"], "degree": [2, 2], "num_bins": 10},
     "crosses[0].degree", "lists a degree twice"),
    ({"all_of": ["carrier", "origin"], "degree": 1, "num_bins": 10}, "crosses[0].degree",
     "is not a valid cross degree"),
    ({"all_of": ["carrier", "origin"]}, "crosses[0].num_bins", "is required"),
    ({"all_of": ["carrier", "origin"], "num_bins": 1}, "crosses[0].num_bins",
     "must be at least 2"),
    ({"all_of": ["carrier", "origin"], "num_bins": 10, "name": "x"}, "crosses[0].name",
     "unknown key"),
    ({"num_bins": 10}, "crosses[0].all_of", "is required"),
], ids=["one_column", "repeated_column", "unknown_column", "float_column", "degree_too_high",
        "degree_repeated", "degree_one", "no_num_bins", "num_bins_one", "name_not_allowed",
        "no_all_of"])
def test_bad_shorthand(tmp_path, entry, key, fragment):
    missing = fragment == "is required"  # a missing key has no value to show
    assert_config_rejected(tmp_path, shorthand(entry), key, fragment, received=not missing)


def test_crosses_must_be_a_list(tmp_path):
    assert_config_rejected(tmp_path, shorthand(), "crosses", "must be a non-empty list")


def test_features_or_crosses_required(tmp_path):
    config = make_config()
    del config["features"]
    assert_config_rejected(tmp_path, config, "features", "is required", received=False)

"""The config's JSON Schema, for editors that complete and check YAML (docs/config.md
"Editor completion").

Generated from the key lists and value sets the parser itself uses (model.py,
parser.py), so the two cannot disagree on which keys exist; the parser still
has the last word on what only it can check (names that must exist, degrees
within all_of). `configs/featurecross.schema.json` is this output, committed.
"""

from __future__ import annotations

import json

from pipeline.config.model import (
    COLUMN_KEYS,
    COLUMN_SHAPES,
    COLUMN_TYPES,
    DEFAULT_DIAGNOSTICS_MEMORY_MB,
    DRIFT_KEYS,
    FEATURE_KINDS,
    INPUT_FORMATS,
    INPUT_KEYS,
    MAX_INT64,
    MAX_UINT64,
    MIN_INT64,
    OUTPUT_FORMATS,
    OUTPUT_KEYS,
    OUTPUT_MODES,
    TOP_KEYS,
    VOCABULARY_KEYS,
)
from pipeline.config.parser import CROSSES_KEYS, KIND_KEYS

SCHEMA_ID = "https://github.com/featurecross/featurecross/configs/featurecross.schema.json"
SHIPPED = "configs/featurecross.schema.json"

# JSON types of a column's default, by column type; a type added to COLUMN_TYPES
# without an entry here gets an unchecked default (the parser still checks it).
_DEFAULT_TYPES = {"string": "string", "int": "integer", "float": "number",
                  "bool": ["boolean", "integer"]}  # bool: true/false or 0/1

_NAME = {"type": "string", "minLength": 1}
_NAMES = {"type": "array", "items": _NAME}
_INT_AT_LEAST_2 = {"type": "integer", "minimum": 2, "maximum": MAX_INT64}

# The value of every key a feature (or a crosses: entry) may set.
_FEATURE_VALUES = {
    "name": {**_NAME, "description": "the output feature's name"},
    "cross": {**_NAMES, "minItems": 2, "description": "tf.sparse.cross_hashed of these inputs"},
    "hash": {**_NAME, "description": "Keras Hashing of one string or int input"},
    "bucketize": {**_NAME, "description": "bucket ids of one numeric input"},
    "product": {**_NAMES, "minItems": 2, "description": "the product of numeric inputs"},
    "polynomial": {**_NAMES, "minItems": 1,
                   "description": "polynomial terms, in scikit-learn's order"},
    "num_bins": {"description": "hash buckets; `auto` (crosses only) picks it from the data",
                 "anyOf": [_INT_AT_LEAST_2, {"const": "auto"}]},
    "max_collision_rate": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                           "description": "required with num_bins: auto"},
    "hash_key": {"type": "integer", "minimum": MIN_INT64, "maximum": MAX_UINT64},
    "vocabulary": {"description": "exact ids instead of hashing",
                   "anyOf": [{"type": "null"},
                             {"type": "object", "additionalProperties": False,
                              "properties": {key: {"type": ["integer", "null"], "minimum": 1}
                                             for key in VOCABULARY_KEYS}}]},
    "salt": {"anyOf": [{"type": "null"},
                       {"type": "integer", "minimum": 0, "maximum": MAX_INT64},
                       {"type": "array", "minItems": 2, "maxItems": 2,
                        "items": {"type": "integer", "minimum": 0, "maximum": MAX_INT64}}]},
    "num_buckets": {"type": "integer", "minimum": 2, "description": "quantile buckets"},
    "boundaries": {"type": "array", "minItems": 1, "items": {"type": "number"}},
    "degree": {"anyOf": [{"type": "integer", "minimum": 1},
                         {"type": "array", "minItems": 1, "items": {"type": "integer"}}]},
    "interaction_only": {"type": "boolean"},
    "include_bias": {"type": "boolean"},
    "output": {"enum": list(OUTPUT_MODES)},
    "sparse": {"type": "boolean"},
    "all_of": {**_NAMES, "minItems": 2, "uniqueItems": True,
               "description": "cross every combination of these inputs"},
}


def json_schema() -> dict:
    """The whole config's JSON Schema (draft 2020-12)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "featurecross config",
        "description": "A featurecross feature config (docs/config.md).",
        "type": "object",
        "additionalProperties": False,
        "required": ["input", "schema"],
        "anyOf": [{"required": ["features"]}, {"required": ["crosses"]}],
        "properties": _top_level(),
    }


def schema_text() -> str:
    """What `featurecross schema` prints and the shipped file holds."""
    return json.dumps(json_schema(), indent=2) + "\n"


def _top_level() -> dict:
    properties = {
        "input": _closed({"format": {"enum": list(INPUT_FORMATS)},
                          "pattern": {**_NAME, "description": "any Beam file pattern"}},
                         INPUT_KEYS, required=["format"]),
        "schema": {"type": "object", "minProperties": 1,
                   "description": "raw columns read; others are ignored",
                   "additionalProperties": _column()},
        "features": {"type": "array", "minItems": 1,
                     "items": {"oneOf": [_feature(kind) for kind in FEATURE_KINDS]}},
        "crosses": {"type": "array", "minItems": 1,
                    "items": _closed({key: _FEATURE_VALUES[key] for key in CROSSES_KEYS},
                                     CROSSES_KEYS, required=["all_of"])},
        "keep": {**_NAMES, "uniqueItems": True,
                 "description": "raw columns copied to the output"},
        "output": _closed({"dir": _NAME, "format": {"enum": list(OUTPUT_FORMATS)},
                           "max_invalid_share": {
                               "type": "number", "minimum": 0, "maximum": 1,
                               "description": "with --on-invalid quarantine: the largest "
                                              "share of invalid rows a run may have"},
                           "diagnostics_memory_mb": {
                               "type": "integer", "minimum": 1,
                               "description": "memory per worker in MB for the collision "
                                              "report, the drift baseline, num_bins: auto "
                                              "and profile (default "
                                              f"{DEFAULT_DIAGNOSTICS_MEMORY_MB}; "
                                              "--diagnostics-memory-mb overrides it)"}},
                          OUTPUT_KEYS),
        "drift": _drift(),
    }
    assert list(properties) == list(TOP_KEYS), "schema.py: a top-level key has no schema"
    return properties


def _closed(properties: dict, keys: tuple[str, ...], *, required: list[str] = ()) -> dict:
    """An object with exactly `keys` allowed (in the parser's order)."""
    assert set(properties) == set(keys), f"schema.py: keys {keys} and {list(properties)} differ"
    schema = {"type": "object", "additionalProperties": False,
              "properties": {key: properties[key] for key in keys}}
    if required:
        schema["required"] = list(required)
    return schema


def _column() -> dict:
    values = {"type": {"enum": list(COLUMN_TYPES)}, "shape": {"enum": list(COLUMN_SHAPES)},
              "default": {"description": "the value for a null or missing cell"}}
    schema = _closed(values, COLUMN_KEYS, required=["type"])
    schema["allOf"] = [{"if": {"properties": {"type": {"const": column_type}}},
                        "then": {"properties": {"default": {"type": _DEFAULT_TYPES[column_type]}}}}
                       for column_type in COLUMN_TYPES if column_type in _DEFAULT_TYPES]
    return schema


def _feature(kind: str) -> dict:
    keys = ("name", kind, *KIND_KEYS[kind])
    values = {key: _FEATURE_VALUES[key] for key in keys}
    if kind == "hash":
        values["num_bins"] = _INT_AT_LEAST_2
    return _closed(values, keys, required=["name", kind])


def _drift() -> dict:
    thresholds = {"max_unseen_rate": {"type": "number", "minimum": 0, "maximum": 1},
                  "max_psi": {"type": "number", "exclusiveMinimum": 0}}
    per_feature = {"type": "object",
                   "additionalProperties": _closed(thresholds, DRIFT_KEYS)}
    return _closed({**thresholds, "features": per_feature}, (*DRIFT_KEYS, "features"))

"""Typed readers for config keys, and the top-level sections built from them alone.

A reader checks one value and raises a ConfigError naming the file, the key
path and what is allowed; unknown keys get a "Did you mean" hint. The
feature parser (`parser.py`) builds on these, so they must not import it.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping, Sequence

from pipeline.config.model import (
    COLUMN_KEYS,
    COLUMN_SHAPES,
    COLUMN_TYPES,
    DEFAULT_DIAGNOSTICS_MEMORY_MB,
    DEFAULT_HASH_KEY,
    DRIFT_KEYS,
    MAX_UINT64,
    MIN_INT64,
    NOT_GIVEN,
    Column,
    ConfigError,
    DriftThresholds,
    Feature,
)

ROOT = "<top level>"


def did_you_mean(name: Any, options: Sequence[str]) -> str | None:
    """"Did you mean 'x'?" for the option closest to a misspelt `name`, if one is close."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f"Did you mean {close[0]!r}?" if close else None


def join_hints(*hints: str | None) -> str | None:
    return " ".join(h for h in hints if h) or None


def join_key(key: str, name: Any) -> str:
    return str(name) if key == ROOT else f"{key}.{name}"


class KeyReader:
    """Reads typed values out of the YAML tree; errors carry the file and key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, key: str, problem: str, received: Any, **kwargs: Any) -> ConfigError:
        return ConfigError(self.path, key, problem, received=received, **kwargs)

    def mapping(self, value: Any, key: str, allowed_keys: Sequence[str],
                required: Sequence[str] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, "must be a mapping.", value)
        for name in value:
            if name not in allowed_keys:
                raise self.error(join_key(key, name), "unknown key.",
                                 value[name], allowed=", ".join(allowed_keys),
                                 hint=did_you_mean(name, allowed_keys))
        for name in required:
            if name not in value:
                raise self.error(join_key(key, name), "is required.", NOT_GIVEN)
        return value

    def choice(self, value: Any, key: str, choices: Sequence[str]) -> str:
        if value not in choices:
            raise self.error(key, "is not a known value.", value, allowed=" | ".join(choices),
                             hint=did_you_mean(value, choices))
        return value

    def integer(self, value: Any, key: str, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer.", value)
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}.", value,
                             allowed=f"integers >= {minimum}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}.", value,
                             allowed=f"integers <= {maximum}")
        return value

    def hash_key(self, value: Any, key: str) -> int:
        """Any 64-bit value, signed or unsigned: what TF's cross kernel can be keyed with."""
        allowed = (f"integers from {MIN_INT64} to {MAX_UINT64}: 0 is TF's default key "
                   f"{DEFAULT_HASH_KEY:#x}, a negative key is its 64-bit two's complement")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer.", value, allowed=allowed)
        if not MIN_INT64 <= value <= MAX_UINT64:
            raise self.error(key, "must fit in 64 bits.", value, allowed=allowed)
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false.", value)
        return value

    def share(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self.error(key, "must be a share of rows.", value, allowed="numbers from 0 to 1")
        return float(value)

    def memory_mb(self, value: Any, key: str) -> int:
        """Megabytes per worker (the diagnostics' budget): a whole number, 1 or more."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(key, "must be a whole number of megabytes, 1 or more.", value,
                             allowed=f"integers >= 1 (default {DEFAULT_DIAGNOSTICS_MEMORY_MB})")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string.", value)
        return value


class SectionReader(KeyReader):
    """The top-level sections that need no feature parsing: drift, schema, keep."""

    def parse_drift(self, raw: Any, features: tuple[Feature, ...]) -> DriftThresholds:
        spec = self.mapping(raw, "drift", (*DRIFT_KEYS, "features"))
        thresholds = {name: self.threshold(spec[name], f"drift.{name}", name)
                      for name in DRIFT_KEYS if name in spec}
        kinds = {f.name: f.kind for f in features}
        per_feature = {}
        for name, values in self.mapping(spec.get("features", {}), "drift.features",
                                         list(kinds)).items():
            key = f"drift.features.{name}"
            allowed = DRIFT_KEYS if kinds[name] in ("cross", "hash") else (
                ("max_psi",) if kinds[name] == "bucketize" else ())
            if not allowed:
                raise self.error(key, f"{kinds[name]} features have no drift figures.", values,
                                 allowed="cross, hash and bucketize features")
            per_feature[name] = {threshold: self.threshold(value, f"{key}.{threshold}",
                                                           threshold)
                                 for threshold, value in
                                 self.mapping(values, key, allowed).items()}
        return DriftThresholds(**thresholds, per_feature=per_feature, gate=True)

    def threshold(self, value: Any, key: str, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, "must be a number.", value)
        if name == "max_unseen_rate" and not 0 <= value <= 1:
            raise self.error(key, "is a share of rows.", value, allowed="0 to 1")
        if name == "max_psi" and value <= 0:
            raise self.error(key, "must be positive.", value, allowed="numbers > 0")
        return float(value)

    def parse_schema(self, raw: Any) -> dict[str, Column]:
        if not isinstance(raw, dict) or not raw:
            raise self.error("schema", "must be a non-empty mapping of column names.", raw)
        columns = {}
        for name, spec in raw.items():
            key = f"schema.{name}"
            spec = self.mapping(spec, key, COLUMN_KEYS, required=("type",))
            column_type = self.choice(spec["type"], f"{key}.type", COLUMN_TYPES)
            shape = self.choice(spec.get("shape", "scalar"), f"{key}.shape", COLUMN_SHAPES)
            has_default = "default" in spec
            default = spec.get("default")
            if has_default:
                if shape == "sequence":
                    raise self.error(f"{key}.default", "sequence columns take no default.",
                                     default, hint="A missing sequence is read as empty.")
                default = self.default_value(default, column_type, f"{key}.default")
            columns[str(name)] = Column(str(name), column_type, shape, default, has_default)
        return columns

    def default_value(self, value: Any, column_type: str, key: str) -> Any:
        if column_type == "string" and isinstance(value, str):
            return value
        if column_type == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if column_type == "bool" and (isinstance(value, bool) or value in (0, 1)):
            return int(value)  # bool columns are read as int64 0/1
        if (column_type == "float" and isinstance(value, (int, float))
                and not isinstance(value, bool)):
            return float(value)
        article = "an" if column_type[0] in "aeiou" else "a"
        raise self.error(key, f"must be {article} {column_type} value, like the column.", value)

    def parse_keep(self, raw: Any, schema: Mapping[str, Column]) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise self.error("keep", "must be a list of schema column names.", raw)
        for position, name in enumerate(raw):
            if not isinstance(name, str) or name not in schema:
                raise self.error(f"keep[{position}]", "is not a schema column.", name,
                                 allowed=", ".join(schema))
        if len(set(raw)) != len(raw):
            raise self.error("keep", "lists a column twice.", raw)
        return tuple(raw)

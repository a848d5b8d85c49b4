"""The YAML config: parsed and validated once, before any data, into a frozen `Config`.

Pure Python (no TensorFlow, no Beam): every other layer builds on it.
"""

from pipeline.config.model import (
    DEFAULT_HASH_KEY,
    Column,
    Config,
    ConfigError,
    DriftThresholds,
    Feature,
    UnknownKindError,
    Vocabulary,
)
from pipeline.config.parser import load_config, parse_config

__all__ = ["DEFAULT_HASH_KEY", "Column", "Config", "ConfigError", "DriftThresholds", "Feature",
           "UnknownKindError", "Vocabulary", "load_config", "parse_config"]

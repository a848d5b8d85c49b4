"""A config from wherever a program has it: a path, a dict (as YAML would load), or a
`Config` already loaded."""

from __future__ import annotations

import os
from typing import Any, Mapping

from pipeline.config import Config, load_config, parse_config

ConfigSource = Config | str | os.PathLike | Mapping[str, Any]


def load(source: ConfigSource, *, input: str | None = None,
         output: str | None = None) -> Config:
    """The validated config, with `input`/`output` overriding input.pattern/output.dir.

    Raises `pipeline.config.ConfigError` (a one-line message naming the key) on
    any problem, exactly as `featurecross validate` would.
    """
    if isinstance(source, Config):
        config = source
    elif isinstance(source, Mapping):
        config = parse_config(dict(source), path="<dict>")
    else:
        config = load_config(os.fspath(source))
    return config.with_overrides(input_pattern=input, output_dir=output)

"""The config's JSON Schema (pipeline/config/schema.py): shipped as generated, accepted
by every config in the repo and the docs, and strict about keys."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
import yaml

from pipeline.config.schema import SHIPPED, json_schema, schema_text
from tests.support import REPO, run_cli

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```yaml\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
CONFIGS = sorted(p for pattern in ("configs/*.yaml", "bench/configs/*.yaml",
                                   "example/configs/*.yaml") for p in REPO.glob(pattern))
BLOCKS = [(path.name, block) for path in DOCS
          for block in FENCE.findall(path.read_text(encoding="utf-8"))]
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def errors(config) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(config)]


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json_schema())


def test_the_shipped_file_is_the_generated_schema():
    assert (REPO / SHIPPED).read_text(encoding="utf-8") == schema_text(), (
        f"{SHIPPED} is stale: featurecross schema > {SHIPPED}")


def test_featurecross_schema_prints_it(capsys):
    assert run_cli("schema") == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_every_shipped_config_validates(path):
    assert errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("index", range(len(BLOCKS)),
                         ids=[f"{name}-{i}" for i, (name, _) in enumerate(BLOCKS)])
def test_every_yaml_block_in_the_docs_validates(index):
    assert errors(yaml.safe_load(BLOCKS[index][1])) == []


FLIGHTS = yaml.safe_load((REPO / "configs" / "flights.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("where, misspelt", [
    (lambda c: c, "featurs"),
    (lambda c: c["input"], "patern"),
    (lambda c: c["schema"]["tailnum"], "defualt"),
    (lambda c: c["features"][0], "num_bin"),
    (lambda c: c["features"][4], "num_bucket"),
    (lambda c: c["output"], "fromat"),
])
def test_a_misspelt_key_fails(where, misspelt):
    config = copy.deepcopy(FLIGHTS)
    where(config)[misspelt] = 1
    assert errors(config), f"{misspelt} passed the schema"


@pytest.mark.parametrize("change, schema_catches", [
    # auto needs max_collision_rate: a rule across keys, the parser's alone
    (lambda c: c["features"][0].update(num_bins="auto"), False),
    (lambda c: c["schema"]["hour"].update(type="integer"), True),
    (lambda c: c["features"][1].update(output="onehot"), True),
    (lambda c: c["schema"]["tailnum"].update(default=0), True),
])
def test_the_parser_and_the_schema_agree_on_bad_values(change, schema_catches, tmp_path):
    config = copy.deepcopy(FLIGHTS)
    change(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert run_cli("validate", "--config", path) == 2
    assert bool(errors(config)) == schema_catches


def test_every_parser_key_is_in_the_schema():
    """The schema's keys are the parser's: each feature kind's, each section's."""
    from pipeline.config.model import COLUMN_KEYS, INPUT_KEYS, OUTPUT_KEYS, TOP_KEYS
    from pipeline.config.parser import CROSSES_KEYS, KIND_KEYS
    schema = json_schema()
    top = schema["properties"]
    assert list(top) == list(TOP_KEYS)
    assert list(top["input"]["properties"]) == list(INPUT_KEYS)
    assert list(top["output"]["properties"]) == list(OUTPUT_KEYS)
    assert list(top["schema"]["additionalProperties"]["properties"]) == list(COLUMN_KEYS)
    assert list(top["crosses"]["items"]["properties"]) == list(CROSSES_KEYS)
    kinds = top["features"]["items"]["oneOf"]
    assert [list(k["properties"]) for k in kinds] == [["name", kind, *keys]
                                                      for kind, keys in KIND_KEYS.items()]

"""The Dataflow image and Flex Template, checked offline (docs/dataflow.md "Running on Dataflow").

Static: the Dockerfile builds on the Beam SDK image of the Beam version
setup.py pins, for Python 3.11, and carries the template launcher; every
template parameter is a real `featurecross run` flag, with help and regexes
that accept and refuse what they should. The template's program run the way
the launcher runs it is tests/external/test_image_launcher.py's.
"""

from __future__ import annotations

import json
import re

import pytest

from pipeline.cli.main import _parser
from tests.support import REPO

METADATA = json.loads((REPO / "configs" / "flex_template_metadata.json").read_text())
PARAMETERS = {p["name"]: p for p in METADATA["parameters"]}
DOCKERFILE = (REPO / "Dockerfile").read_text()


def dockerfile_env(name: str) -> str:
    match = re.search(rf"^ENV .*?\b{name}=(\S+)", DOCKERFILE, re.MULTILINE | re.DOTALL)
    assert match, f"the Dockerfile sets no {name}"
    return match[1]


def test_the_image_is_the_beam_sdk_image_of_the_pinned_beam_for_python_3_11():
    beam_pin = re.search(r'"apache-beam\[gcp\]==([\d.]+)"', (REPO / "setup.py").read_text())[1]
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert bases[-1] == f"apache/beam_python3.11_sdk:{beam_pin}"  # the final stage
    assert "python311-template-launcher-base" in bases[0]
    assert re.search(r"^COPY --from=launcher /opt/google/dataflow/python_template_launcher",
                     DOCKERFILE, re.MULTILINE)
    assert re.search(r"pip install .*&& pip check", DOCKERFILE)
    assert re.search(r"^USER (?!root|0\b)\S+", DOCKERFILE, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["/opt/apache/beam/boot"\]', DOCKERFILE, re.MULTILINE)


def test_the_launcher_runs_a_file_of_the_installed_package():
    py_file = dockerfile_env("FLEX_TEMPLATE_PYTHON_PY_FILE")
    assert py_file == "/opt/featurecross/pipeline/cli/flex_template.py"
    assert (REPO / "pipeline" / "cli" / "flex_template.py").is_file()
    assert re.search(r"^WORKDIR /opt/featurecross$", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^COPY pipeline \./pipeline$", DOCKERFILE, re.MULTILINE)


def test_template_parameters_are_the_contracts_and_real_run_flags():
    assert list(PARAMETERS) == ["config", "input", "output", "transform_fn", "on_invalid"]
    commands = next(a for a in _parser()._actions if a.dest == "command")
    run_flags = {flag for action in commands.choices["run"]._actions
                 for flag in action.option_strings}
    for name, parameter in PARAMETERS.items():
        assert f"--{name}" in run_flags, name
        assert parameter["label"] and len(parameter["helpText"]) > 30, name
        assert parameter["regexes"], name
        assert parameter["isOptional"] is (name != "config"), name


@pytest.mark.parametrize("name, good, bad", [
    ("config", ["/opt/featurecross/configs/flights.yaml", "configs/a_b-1.yml"],
     ["configs/flights.json", "a b.yaml", ""]),
    ("input", ["gs://b/flights/dt=2026-11-20/*.parquet"], ["/data/x.parquet", "gs://", ""]),
    ("output", ["gs://b/features/dt=2026-11-20"], ["out/flights", "s3://b/x"]),
    ("transform_fn", ["gs://b/features/analysis/2026-11-16"], ["out/frozen"]),
    ("on_invalid", ["fail", "quarantine"], ["skip", "Fail", ""]),
])
def test_template_regexes_accept_and_refuse(name, good, bad):
    def accepted(value: str) -> bool:
        return all(re.fullmatch(regex, value) for regex in PARAMETERS[name]["regexes"])

    assert all(accepted(value) for value in good)
    assert not any(accepted(value) for value in bad)

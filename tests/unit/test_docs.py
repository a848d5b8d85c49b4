"""The README cannot drift from the code: each check reads the code, not a list.

- every command and flag of the CLI parser appears in a README synopsis of
  that command (a code-block line starting `featurecross COMMAND`, plus its
  indented continuation lines);
- every `yaml` block in the README is a whole config that `featurecross
  validate` accepts, and so is every config shipped in configs/ and bench/;
- every module under pipeline/ has a line in the README's module map ("How
  the code is laid out"), naming a test file that exists, and the map names
  no module that does not;
- code and tests cite README sections (`README "Section"`) that exist, and
  no document outside the repository.
"""

from __future__ import annotations

import argparse
import ast
import re

import pytest

from pipeline.cli import main as cli
from tests.support import REPO, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")
MAP_HEADING = "How the code is laid out"
SOURCES = sorted(path for path in [*REPO.glob("pipeline/**/*.py"), *REPO.glob("tests/**/*.py"),
                                   *REPO.glob("bench/**/*.py"), *REPO.glob("data/*.py")]
                 if path.name != "test_docs.py")  # this file quotes the forms it checks


def code_blocks(language: str | None = None) -> list[str]:
    """Fenced blocks of the README, optionally only those tagged `language`."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    return [body for tag, body in blocks if language is None or tag == language]


def section(heading: str) -> str:
    """The README text under `heading`, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#|\Z)", README,
                      re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def headings() -> set[str]:
    return set(re.findall(r"^#+ (.+)$", README, re.MULTILINE))


# --- the command line --------------------------------------------------------

def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in cli._parser()._actions
                 if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def synopses(command: str) -> str:
    """Every README code-block line that runs `command`, with its continuation lines."""
    found = []
    for block in code_blocks():
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith(f"featurecross {command}"):
                continue
            found.append(line)
            for more in lines[index + 1:]:
                if not more.startswith((" ", "\t")):
                    break
                found.append(more)
    return "\n".join(found)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_is_in_a_readme_synopsis(command):
    assert synopses(command), (f"README: no code-block line starts with "
                               f"'featurecross {command}'; add it to \"Running\"")


@pytest.mark.parametrize("command, flag", sorted(
    (command, action.option_strings[0])  # the first spelling; aliases need not be shown
    for command, parser in subcommands().items() for action in options(parser)))
def test_every_flag_is_in_its_commands_synopsis(command, flag):
    written = synopses(command)
    assert re.search(rf"{re.escape(flag)}\b", written), (
        f"README: `featurecross {command}`'s synopsis does not mention {flag}:\n{written}")
    action = next(a for a in options(subcommands()[command]) if flag in a.option_strings)
    for choice in action.choices or ():
        assert str(choice) in written, f"README: {command} {flag}: choice {choice!r} missing"


def test_the_synopses_name_only_real_flags():
    for command, parser in subcommands().items():
        known = {s for action in parser._actions for s in action.option_strings}
        for flag in re.findall(r"\[?(--[a-z][a-z0-9_-]*)", synopses(command)):
            if command == "run" and flag not in known:
                continue  # other flags go to Beam (--runner, --project, ...)
            assert flag in known, f"README: `featurecross {command}` has no flag {flag}"


# --- configs -----------------------------------------------------------------

CONFIGS = sorted([*REPO.glob("configs/*.yaml"), *REPO.glob("bench/configs/*.yaml")])


@pytest.mark.parametrize("index", range(len(code_blocks("yaml"))))
def test_every_readme_yaml_block_validates(index, tmp_path, capsys):
    path = tmp_path / f"readme_block_{index}.yaml"
    path.write_text(code_blocks("yaml")[index], encoding="utf-8")
    assert run_cli("validate", "--config", path) == 0, capsys.readouterr().err


def test_the_readme_has_a_yaml_config():
    assert code_blocks("yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_every_shipped_config_validates(path, capsys):
    assert run_cli("validate", "--config", path) == 0, capsys.readouterr().err


# --- the module map ----------------------------------------------------------

def module_map() -> dict[str, str]:
    """{`pipeline/x.py`: its map line} from the README's module map table."""
    rows = re.findall(r"^\|\s*`(pipeline/[\w/]+\.py)`\s*\|(.*)$", section(MAP_HEADING),
                      re.MULTILINE)
    return dict(rows)


MODULES = sorted(str(p.relative_to(REPO)) for p in REPO.glob("pipeline/**/*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_in_the_map_with_its_tests(module):
    line = module_map().get(module)
    assert line is not None, f"README \"{MAP_HEADING}\": add a row for `{module}`"
    tests = re.findall(r"`(tests/[\w/]+\.py)`", line)
    assert tests, f"README \"{MAP_HEADING}\": the row of `{module}` names no test file"
    for test_file in tests:
        assert (REPO / test_file).exists(), f"{module}: {test_file} does not exist"


def test_the_map_names_only_existing_modules():
    assert sorted(module_map()) == MODULES


def imported_modules(module: str) -> set[str]:
    """`pipeline/x.py` paths of the package modules that `module` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse((REPO / module).read_text(encoding="utf-8"))):
        names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                 else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            if name.startswith("pipeline."):
                found.add(name.replace(".", "/") + ".py")
    return found


def test_the_map_order_is_the_import_stack():
    """Each module imports only modules listed above it: no cycles, `config` first."""
    order = list(module_map())
    for position, module in enumerate(order):
        later = sorted(imported_modules(module) & set(order[position:]))
        assert not later, (f"README \"{MAP_HEADING}\": `{module}` imports {later}; "
                           "list it below them (or break the cycle)")


def test_features_is_pure_tensorflow():
    text = (REPO / "pipeline" / "features.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from) apache_beam", text, re.MULTILINE)


# --- citations -----------------------------------------------------------------

@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_sources_cite_readme_sections_that_exist(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"DESIGN(\.md| section| §)", text), (
        f"{path.name}: cite the README (README \"Section\"), not a document outside the repo")
    for cited in re.findall(r'README "([^"]+)"', text):
        cited = " ".join(cited.replace("#", "").split())  # a citation may wrap
        assert cited in headings(), f"{path.name}: README has no section {cited!r}"

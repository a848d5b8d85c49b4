"""The README and docs/ cannot drift from the code: each check reads the code, not a list.

- every command and flag of the CLI parser appears in a README synopsis of
  that command (a code-block line starting `featurecross COMMAND`, plus its
  indented continuation lines), and no synopsis in the README or docs/ names
  a flag its command does not have;
- every `yaml` block in the README and docs/ is a whole config that
  `featurecross validate` accepts, and so is every config shipped in configs/
  and bench/;
- every module under pipeline/ has a row in the module map of
  docs/architecture.md ("How the code is laid out"), naming a test file that
  exists, and the map names no module that does not; the map is grouped by
  subpackage in the layer order it states, and each module imports only from
  its own or lower layers, and only modules in rows above its own;
- code, tests and build files cite sections by file and heading
  (`docs/config.md "num_bins: auto"`, `README "Exit codes"`), and every cited
  heading exists in that file;
- every link in the README, docs/ and CHANGELOG.md resolves to a file (and a
  heading) inside the repository, and nothing cites a document outside it.
"""

from __future__ import annotations

import argparse
import ast
import re

import pytest

from pipeline.cli import main as cli
from tests.support import REPO, run_cli

DOCS = {path: path.read_text(encoding="utf-8")
        for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]}
README = DOCS[REPO / "README.md"]
LINKED = {**DOCS, REPO / "CHANGELOG.md": (REPO / "CHANGELOG.md").read_text(encoding="utf-8")}
ARCHITECTURE = REPO / "docs" / "architecture.md"
MAP_HEADING = "How the code is laid out"
CITING = ["pipeline/**/*.py", "tests/**/*.py", "bench/**/*.py", "bench/**/*.yaml",
          "data/**/*.py", "example/**/*.py", "example/**/*.yaml", "configs/**/*.yaml",
          "configs/**/*.json", "Makefile", "Dockerfile"]
SOURCES = sorted({path for pattern in CITING for path in REPO.glob(pattern)
                  if path.is_file() and path.name != "test_docs.py"})  # it quotes the forms
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(text: str, language: str | None = None) -> list[str]:
    """Fenced blocks of `text`, optionally only those tagged `language`."""
    return [body for tag, body in FENCE.findall(text) if language is None or tag == language]


def all_code_blocks(language: str | None = None) -> list[tuple[str, str]]:
    """(file name, block) for every fenced block of the README and docs/."""
    return [(path.name, block) for path, text in DOCS.items()
            for block in code_blocks(text, language)]


def prose(text: str) -> str:
    """`text` without its fenced code blocks (a `# comment` there is no heading)."""
    return FENCE.sub("", text)


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every heading outside fenced code."""
    return [(len(hashes), title.strip())
            for hashes, title in re.findall(r"^(#+) (.+)$", prose(text), re.MULTILINE)]


def section(text: str, heading: str) -> str:
    """The text under `heading`, subsections included, up to the next heading of its
    level or above."""
    body = prose(text)
    match = re.search(rf"^(#+) {re.escape(heading)}[ \t]*\n", body, re.MULTILINE)
    assert match, f"no section {heading!r}"
    level = len(match.group(1))
    end = re.search(rf"^#{{1,{level}}} ", body[match.end():], re.MULTILINE)
    return body[match.end():match.end() + end.start()] if end else body[match.end():]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


# --- the command line --------------------------------------------------------

def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in cli._parser()._actions
                 if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def synopses(command: str, blocks: list[str]) -> str:
    """Every code-block line that runs `command`, with its continuation lines."""
    found = []
    for block in blocks:
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


def readme_synopses(command: str) -> str:
    return synopses(command, code_blocks(README))


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_is_in_a_readme_synopsis(command):
    assert readme_synopses(command), (f"README: no code-block line starts with "
                                      f"'featurecross {command}'; add it to \"Commands\"")


@pytest.mark.parametrize("command, flag", sorted(
    (command, action.option_strings[0])  # the first spelling; aliases need not be shown
    for command, parser in subcommands().items() for action in options(parser)))
def test_every_flag_is_in_its_commands_synopsis(command, flag):
    written = readme_synopses(command)
    assert re.search(rf"{re.escape(flag)}\b", written), (
        f"README: `featurecross {command}`'s synopsis does not mention {flag}:\n{written}")
    action = next(a for a in options(subcommands()[command]) if flag in a.option_strings)
    for choice in action.choices or ():
        assert str(choice) in written, f"README: {command} {flag}: choice {choice!r} missing"


@pytest.mark.parametrize("path", list(DOCS), ids=[p.name for p in DOCS])
def test_the_synopses_name_only_real_flags(path):
    for command, parser in subcommands().items():
        known = {s for action in parser._actions for s in action.option_strings}
        written = synopses(command, code_blocks(DOCS[path]))
        for flag in re.findall(r"\[?(--[a-z][a-z0-9_-]*)", written):
            if command == "run" and flag not in known:
                continue  # other flags go to Beam (--runner, --project, ...)
            assert flag in known, f"{path.name}: `featurecross {command}` has no flag {flag}"


def exit_code_table(text: str) -> list[str]:
    return [line for line in section(text, "Exit codes").splitlines() if line.startswith("|")]


def test_the_exit_codes_agree():
    readme = exit_code_table(README)
    assert readme, "README \"Exit codes\" has no table"
    assert exit_code_table(DOCS[REPO / "docs" / "running.md"]) == readme, (
        "the exit code tables of README and docs/running.md differ")


# --- configs -----------------------------------------------------------------

CONFIGS = sorted([*REPO.glob("configs/*.yaml"), *REPO.glob("bench/configs/*.yaml")])
YAML_BLOCKS = all_code_blocks("yaml")


@pytest.mark.parametrize("index", range(len(YAML_BLOCKS)),
                         ids=[f"{name}-{i}" for i, (name, _) in enumerate(YAML_BLOCKS)])
def test_every_yaml_block_in_the_docs_validates(index, tmp_path, capsys):
    name, block = YAML_BLOCKS[index]
    path = tmp_path / f"{name}_block_{index}.yaml"
    path.write_text(block, encoding="utf-8")
    assert run_cli("validate", "--config", path) == 0, f"{name}: {capsys.readouterr().err}"


def test_the_readme_has_a_yaml_config():
    assert code_blocks(README, "yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_every_shipped_config_validates(path, capsys):
    assert run_cli("validate", "--config", path) == 0, capsys.readouterr().err


# --- the module map ----------------------------------------------------------

MAP = section(DOCS[ARCHITECTURE], MAP_HEADING)
PACKAGES = {str(p.parent.relative_to(REPO)).replace("/", ".")
            for p in REPO.glob("pipeline/**/__init__.py")}
MODULES = sorted(str(p.relative_to(REPO)) for p in REPO.glob("pipeline/**/*.py"))


def module_map() -> dict[str, str]:
    """{`pipeline/x.py`: its map row}, in the map's order."""
    rows = re.findall(r"^\|\s*`(pipeline/[\w/]+\.py)`\s*\|(.*)$", MAP, re.MULTILINE)
    return dict(rows)


def layers() -> list[str]:
    """The layer order the map states, as `config → transform → ... → cli`."""
    match = re.search(r"^`(\w+(?: → \w+)+)`$", MAP, re.MULTILINE)
    assert match, f"docs/architecture.md \"{MAP_HEADING}\": state the layer order"
    return match.group(1).split(" → ")


def layer_of(module: str) -> int | None:
    """The position of the module's subpackage in the layer order; None at the top."""
    parts = module.split("/")
    return layers().index(parts[1]) if len(parts) > 2 else None


def path_of(name: str) -> str:
    """`pipeline.x.y` -> the file it imports."""
    return name.replace(".", "/") + ("/__init__.py" if name in PACKAGES else ".py")


def imported_modules(module: str) -> set[str]:
    """Paths of the package modules that `module` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse((REPO / module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline"):
            for alias in node.names:  # `from pipeline.io import rows` imports a module
                name = f"{node.module}.{alias.name}"
                found.add(path_of(name) if (REPO / path_of(name)).exists()
                          else path_of(node.module))
        elif isinstance(node, ast.Import):
            found |= {path_of(a.name) for a in node.names if a.name.startswith("pipeline")}
    return found


def test_the_layers_are_the_subpackages():
    subpackages = sorted(p.parent.name for p in REPO.glob("pipeline/*/__init__.py"))
    assert sorted(layers()) == subpackages


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_in_the_map_with_its_tests(module):
    line = module_map().get(module)
    assert line is not None, f"docs/architecture.md \"{MAP_HEADING}\": add a row for `{module}`"
    tests = re.findall(r"`(tests/[\w/]+\.py)`", line)
    assert tests, f"docs/architecture.md \"{MAP_HEADING}\": the row of `{module}` names no test"
    for test_file in tests:
        assert (REPO / test_file).exists(), f"{module}: {test_file} does not exist"


def test_the_map_names_only_existing_modules():
    assert sorted(module_map()) == MODULES


def test_the_map_is_grouped_by_subpackage_in_layer_order():
    """Each subpackage's rows stand together under a heading named after it, in layer order."""
    groups = re.findall(r"^#+ (\w+)\n(.*?)(?=^#|\Z)", MAP, re.MULTILINE | re.DOTALL)
    named = [(name, re.findall(r"^\|\s*`pipeline/(\w+)/[\w/]+\.py`", body, re.MULTILINE))
             for name, body in groups if name in layers()]
    assert [name for name, _ in named] == layers()
    for name, rows in named:
        assert rows and set(rows) == {name}, f"the {name} table holds modules of {set(rows)}"


def test_each_module_imports_only_its_own_or_lower_layers():
    broken = set()
    for module in module_map():
        for imported in imported_modules(module):
            mine, theirs = layer_of(module), layer_of(imported)
            if mine is not None and theirs is not None and theirs > mine:
                broken.add((module, imported))
    assert not broken, f"imports from a higher layer: {sorted(broken)}"


def test_the_map_order_is_the_import_stack():
    """Each module imports only modules listed above it: no cycles, `config` first."""
    order = list(module_map())
    for position, module in enumerate(order):
        later = imported_modules(module) & set(order[position:])
        assert not later, (f"docs/architecture.md \"{MAP_HEADING}\": `{module}` imports "
                           f"{sorted(later)}; list it below them (or break the cycle)")


def imports_of(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {name.split(".")[0] for node in ast.walk(tree)
            for name in ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [a.name for a in node.names] if isinstance(node, ast.Import)
                         else [])}


@pytest.mark.parametrize("path", sorted(REPO.glob("pipeline/transform/*.py")),
                         ids=lambda p: p.name)
def test_transform_is_pure_tensorflow(path):
    assert "apache_beam" not in imports_of(path)


@pytest.mark.parametrize("path", sorted(REPO.glob("pipeline/config/*.py")), ids=lambda p: p.name)
def test_config_imports_neither_tensorflow_nor_beam(path):
    assert not imports_of(path) & {"apache_beam", "tensorflow", "tensorflow_transform"}


# --- citations and links ------------------------------------------------------

DOCUMENT = r"(README|CHANGELOG\.md|docs/[\w.-]+\.md)\b"
QUOTED = r'"[^"]+"'
GAP = r"\s*(?:#\s*)?"  # a citation may wrap, in a comment too
CITATION = re.compile(rf"{DOCUMENT}(?P<gap>{GAP})(?P<first>{QUOTED})"
                      rf"(?P<rest>(?:(?:\s*,|\s+and){GAP}{QUOTED})*)")
MORE = re.compile(rf"(?:\s*,|\s+and){GAP}({QUOTED})")


def citations(text: str) -> list[tuple[str, str]]:
    """(document, heading) of every citation in `text`; a citation may name several
    headings of one document: `docs/outputs.md "Profile" and "Suggest"`."""
    found = []
    for match in CITATION.finditer(text):
        document = "README.md" if match.group(1) == "README" else match.group(1)
        for quoted in [match.group("first"), *MORE.findall(match.group("rest"))]:
            found.append((document, " ".join(quoted.strip('"').replace("#", " ").split())))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_sources_cite_sections_that_exist(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"DESIGN(\.md| section| §)", text), (
        f"{path.name}: cite the docs (docs/config.md \"Section\"), not a document outside "
        "the repo")
    for document, heading in citations(text):
        target = REPO / document
        assert target.exists(), f"{path.name}: cites {document}, which does not exist"
        titles = {title for _, title in headings(target.read_text(encoding="utf-8"))}
        assert heading in titles, f"{path.name}: {document} has no section {heading!r}"


def test_the_citation_forms_are_read():
    text = ('x (README "Exit codes"), docs/outputs.md "Profile" and "Suggest";\n'
            '# y (docs/config.md "Crosses\n# and input order"), docs/outputs.md\n"Output".')
    assert citations(text) == [("README.md", "Exit codes"), ("docs/outputs.md", "Profile"),
                               ("docs/outputs.md", "Suggest"),
                               ("docs/config.md", "Crosses and input order"),
                               ("docs/outputs.md", "Output")]


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", list(LINKED), ids=[str(p.relative_to(REPO)) for p in LINKED])
def test_links_stay_inside_the_repository(path):
    for target in LINK.findall(prose(LINKED[path])):
        if re.match(r"https?://", target):
            continue  # a web page, not a file
        assert not re.match(r"(\w+:|/|~)", target), f"{path.name}: links outside the repo: {target}"
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.is_relative_to(REPO.resolve()), (
            f"{path.name}: {target} points outside the repository")
        assert resolved.exists(), f"{path.name}: {target}: no such file"
        if anchor:
            assert resolved.suffix == ".md", f"{path.name}: {target}: anchor into a non-page"
            slugs = {slug(title) for _, title in headings(resolved.read_text(encoding="utf-8"))}
            assert anchor in slugs, f"{path.name}: {target}: no heading with that anchor"

"""The Flex Template's program: `featurecross run`, parameters given as `--name=value`.

Dataflow's template launcher runs this file (FLEX_TEMPLATE_PYTHON_PY_FILE in
the Dockerfile) with the template's parameters (configs/
flex_template_metadata.json) and Dataflow's own pipeline options as flags,
with no subcommand; `transform_fn` and `on_invalid` arrive with underscores,
which `run` accepts too.
"""

import os
import sys

# Run as a file, this directory would come first on sys.path and its modules
# (config, schema, stats, ...) would shadow top-level ones; import the package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

from pipeline.cli.main import main  # noqa: E402 (after the sys.path fix)


def launch(argv: list[str]) -> int:
    return main(["run", *argv])


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1:]))

"""The `featurecross` command line: parse, dispatch, map errors to exit codes."""

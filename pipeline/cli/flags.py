"""Every flag on a command line is ours or Beam's (docs/running.md "Flags").

`run`, `profile` and `suggest` hand the flags they do not know to Beam, and
Beam ignores the ones it does not know either: a misspelt `--transfrom-fn`
would silently run a fresh analysis. So the leftover flags are checked
against Beam's own pipeline options, which Beam lists itself (each
`PipelineOptions` subclass registers its flags on an argparse parser), and
anything else is refused with a "did you mean" from both sets.
"""

from __future__ import annotations

import argparse
import difflib


def beam_option_strings() -> set[str]:
    """Every flag Beam's pipeline options accept (`--runner`, `--temp_location`, ...)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    seen, strings, pending = set(), set(), [PipelineOptions]
    while pending:
        options_class = pending.pop()
        if options_class in seen:
            continue
        seen.add(options_class)
        pending.extend(options_class.__subclasses__())
        parser = argparse.ArgumentParser(add_help=False, conflict_handler="resolve")
        adder = options_class.__dict__.get("_add_argparse_args")
        if adder is None:
            continue
        try:
            adder.__func__(options_class, parser)  # a classmethod, called on its class
        except Exception:  # noqa: BLE001 an odd subclass must not hide the others' flags
            continue
        for action in parser._actions:
            strings.update(s for s in action.option_strings if s.startswith("--"))
    return strings


def own_option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings
            if s.startswith("--") and s != "--help"]


def unknown_flag_message(parser: argparse.ArgumentParser, leftovers: list[str]) -> str | None:
    """The usage error for the first leftover flag neither we nor Beam know, or None."""
    flags = [token for token in leftovers if token.startswith("-") and not _is_number(token)]
    if not flags:
        return None
    beam = beam_option_strings()
    for token in flags:
        name = token.split("=", 1)[0]
        if name in beam:
            continue
        close = difflib.get_close_matches(name, [*own_option_strings(parser), *sorted(beam)],
                                          n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return (f"unrecognized argument {name}{hint} (featurecross accepts its own flags "
                "and Beam's pipeline options only)")
    return None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True

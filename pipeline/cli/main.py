"""The `featurecross` command line: parse, dispatch, map errors to exit codes.

Our own flags are parsed here; Beam's pipeline options are handed to Beam
unchanged, so one command line runs on the DirectRunner and on Dataflow, and
any other flag is a usage error (`flags.py`, docs/running.md "Flags"). Each
command is a call of the Python API (`pipeline/api/`), and each command's module formats
its own text; TensorFlow and Beam are imported only after
their log levels are set (`quiet.py`), to keep the terminal for our messages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading

from pipeline import api
from pipeline.cli.beam_errors import find_error
from pipeline.cli.flags import unknown_flag_message
from pipeline.cli.quiet import quiet_libraries
from pipeline.config.paths import check_scheme
from pipeline.diagnostics.budget import DEFAULT_MEMORY_MB
from pipeline.job.dataflow_options import check_dataflow_options
from pipeline.job.runner_choice import with_runner

# README "Exit codes": a scheduler can tell these apart.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARITY, EXIT_DRIFT = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


@dataclasses.dataclass(frozen=True)
class ErrorKind:
    """One row of the error table: an exception class, its exit code and its wording.

    The class is named, not imported: it can only have been raised if its
    module was loaded, so `validate` never imports TensorFlow to look it up.
    """

    module: str
    name: str
    exit_code: int
    label: str = ""       # printed before the message
    in_steps: bool = False  # raised inside a pipeline step, so Beam wraps it
    hint: str = ""        # printed after the message

    def message(self, error: BaseException) -> str | None:
        """The message for `error` (or for what Beam wrapped), or None if not this kind."""
        kind = getattr(sys.modules.get(self.module), self.name, None)
        if kind is None:
            return None
        if self.in_steps:
            found = find_error(error, kind)
        else:
            found = str(error) if isinstance(error, kind) else None
        return None if found is None else f"{self.label}{found}{self.hint}"


# First match wins (README "Exit codes").
ERRORS = (
    ErrorKind("pipeline.config", "ConfigError", EXIT_USAGE, "config error: "),
    ErrorKind("pipeline.config.paths", "PathError", EXIT_USAGE),
    ErrorKind("pipeline.job.dataflow_options", "DataflowOptionsError", EXIT_USAGE),
    ErrorKind("pipeline.job.runner_choice", "RunnerError", EXIT_USAGE),
    ErrorKind("pipeline.explore.suggest", "LabelError", EXIT_USAGE),
    ErrorKind("pipeline.explore.suggest", "NoCandidatesError", EXIT_USAGE),
    ErrorKind("pipeline.explore.init_config", "InitError", EXIT_USAGE, "init: "),
    ErrorKind("pipeline.serving.parity_sample", "ParityError", EXIT_PARITY),
    ErrorKind("pipeline.serving.verify", "ServingFailedError", EXIT_FAILED),
    ErrorKind("pipeline.job.run", "JobError", EXIT_FAILED),
    ErrorKind("pipeline.job.frozen_run", "FrozenRunError", EXIT_FAILED),
    ErrorKind("pipeline.transform.batch_transformer", "GraphMismatchError", EXIT_FAILED),
    ErrorKind("pipeline.io.publish", "PublishError", EXIT_FAILED),
    ErrorKind("pipeline.io.rows", "UnreadableFileError", EXIT_FAILED, "unreadable input: ",
              in_steps=True),
    ErrorKind("pipeline.io.rows", "InvalidInputError", EXIT_FAILED, "invalid input: ",
              in_steps=True, hint="\n  (rerun with --on-invalid quarantine to set bad rows "
                                  "aside and go on)"),
)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    if args.command not in ("run", "profile", "suggest") and beam_args:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    unknown = unknown_flag_message(args.command_parser, beam_args)  # before anything is made
    if unknown:
        args.command_parser.error(unknown)
    previous = _on_signals(_interrupt)
    try:
        return args.handler(args, beam_args)
    except Exception as error:
        if _interrupted:  # Beam re-raises a step's KeyboardInterrupt as its own error
            return _report_interrupted()
        for kind in ERRORS:
            message = kind.message(error)
            if message is not None:
                print(f"featurecross: {message}", file=sys.stderr)
                return kind.exit_code
        raise
    except KeyboardInterrupt:
        return _report_interrupted()
    finally:
        _on_signals(previous)


# Ctrl-C and a scheduler's SIGTERM stop a run the same way: KeyboardInterrupt
# in the main thread, on which the run aborts its publication and releases
# its claim (docs/running.md "Exit codes").
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_interrupted: list[str] = []


def _on_signals(handlers):
    """Sets the handlers (the main thread only may); returns the previous ones."""
    if threading.current_thread() is not threading.main_thread() or handlers is None:
        return None
    if callable(handlers):
        handlers = (handlers,) * len(_SIGNALS)
    return tuple(signal.signal(signum, handler) for signum, handler in zip(_SIGNALS, handlers))


def _interrupt(signum, _frame) -> None:
    _interrupted.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _report_interrupted() -> int:
    _interrupted.clear()
    print("featurecross: interrupted; nothing published", file=sys.stderr)
    return EXIT_INTERRUPTED


def run_and_exit() -> None:
    """The console entry point: `main()`, then exit without interpreter tear-down.

    Unloading TensorFlow's and Beam's modules at exit takes about a second
    and serves nobody: by then every output is closed and published, so the
    streams are flushed and the process ends at once.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featurecross",
        description="Hashed feature crosses on Beam and tf.Transform, identical in "
                    "training and serving.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run",
                              help="run the batch job (Beam's pipeline options go to Beam)")
    run.add_argument("--config", required=True, help="the YAML feature config")
    run.add_argument("--input", help="input file pattern; overrides input.pattern")
    run.add_argument("--output", help="output directory; overrides output.dir")
    # The underscore spellings are how a Flex Template passes its parameters.
    run.add_argument("--transform-fn", "--transform_fn", metavar="DIR", dest="transform_fn",
                     help="transform-only: apply the graph an earlier run exported to DIR")
    run.add_argument("--on-invalid", "--on_invalid", choices=("fail", "quarantine"),
                     default="fail", dest="on_invalid",
                     help="stop at the first invalid row (default) or move it to invalid/")
    run.add_argument("--overwrite", action="store_true",
                     help="replace a non-empty output directory")
    run.add_argument("--verify-rows", type=_non_negative, default=1000, metavar="N",
                     help="serve the first N input rows through serving/ in a fresh process "
                          "and fail on any mismatch with the batch output (default 1000, "
                          "0 = off)")
    run.add_argument("--fail-on-drift", action="store_true",
                     help="transform-only: exit 4 when the data crosses a drift threshold "
                          "(outputs are still complete and published)")
    run.add_argument("--max-invalid-share", type=_share, metavar="S",
                     help="with --on-invalid quarantine: fail when more than this share of "
                          "rows is invalid (default: output.max_invalid_share, or 0.1)")
    run.add_argument("--no-collision-report", action="store_true",
                     help="skip the collision report (report/ and manifest.json 'collisions')")
    run.add_argument("--diagnostics-memory-mb", type=_positive, metavar="MB",
                     help="memory per worker for the collision report, the drift baseline "
                          "and num_bins: auto, shared by the hashed features: each is counted "
                          "exactly up to its share, then sampled (default: "
                          f"output.diagnostics_memory_mb, or {DEFAULT_MEMORY_MB})")
    run.add_argument("--quiet", action="store_true",
                     help="no progress line while the run works, only the summary")
    run.set_defaults(handler=_run, command_parser=run)

    init = commands.add_parser(
        "init", help="write a starter config from the input files' schema and a sample")
    init.add_argument("--input", required=True, metavar="PATTERN",
                      help="Parquet or tf.Example TFRecord files")
    init.add_argument("--label", metavar="COLUMN",
                      help="the label column: kept in the output, never a feature")
    init.add_argument("--output", default="featurecross.yaml", metavar="CONFIG",
                      help="where to write the config (default featurecross.yaml)")
    init.set_defaults(handler=_init, command_parser=init)

    schema = commands.add_parser(
        "schema", help="print the config's JSON Schema (for editor completion)")
    schema.set_defaults(handler=_schema, command_parser=schema)

    validate = commands.add_parser("validate", help="check a config and print the plan")
    validate.add_argument("--config", required=True)
    validate.set_defaults(handler=_validate, command_parser=validate)

    verify = commands.add_parser(
        "verify", help="check that serving/ reproduces the batch output for input rows")
    verify.add_argument("output_dir", metavar="OUT")
    verify.add_argument("--input", help="raw input file pattern (default: the run's own, "
                                        "from its manifest)")
    verify.add_argument("--rows", type=int, default=1000, help="rows to check (default 1000)")
    verify.set_defaults(handler=_verify, command_parser=verify)

    profile = commands.add_parser(
        "profile", help="cardinalities, null shares, top values and collision figures "
                        "(Beam's pipeline options go to Beam)")
    profile.add_argument("--config", required=True, help="the YAML feature config")
    profile.add_argument("--input", help="input file pattern; overrides input.pattern")
    profile.add_argument("--max-collision-rate", type=_rate, metavar="R",
                         help="also find the smallest round num_bins for this rate")
    profile.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    profile.add_argument("--diagnostics-memory-mb", type=_positive, metavar="MB",
                         help="memory per worker for the distinct counts, shared by the "
                              "profiled columns and hashed features: each is counted exactly "
                              "up to its share, then estimated from a sample (default: "
                              f"output.diagnostics_memory_mb, or {DEFAULT_MEMORY_MB})")
    profile.set_defaults(handler=_profile, command_parser=profile)

    suggest = commands.add_parser(
        "suggest", help="rank candidate crosses by what they add about a label "
                        "(Beam's pipeline options go to Beam)")
    suggest.add_argument("--config", required=True, help="the YAML feature config")
    suggest.add_argument("--label", required=True, metavar="COLUMN",
                         help="a string, int or bool column, or a bucketize feature of the config")
    suggest.add_argument("--top", type=int, default=10, metavar="K",
                         help="candidates to show (default 10)")
    suggest.add_argument("--input", help="input file pattern; overrides input.pattern")
    suggest.set_defaults(handler=_suggest, command_parser=suggest)
    return parser


def _fraction(*, closed: bool):
    """An argparse type for a number in [0, 1] (`closed`) or strictly between 0 and 1."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if closed and not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text}")
        if not closed and not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text}")
        return value
    return parse


_rate = _fraction(closed=False)    # --max-collision-rate
_share = _fraction(closed=True)    # --max-invalid-share


def _validate(args: argparse.Namespace, _beam_args: list[str]) -> int:
    print(api.validate(args.config).text)
    return EXIT_OK


def _schema(_args: argparse.Namespace, _beam_args: list[str]) -> int:
    from pipeline.config.schema import schema_text
    sys.stdout.write(schema_text())
    return EXIT_OK


def _init(args: argparse.Namespace, _beam_args: list[str]) -> int:
    quiet_libraries()  # TFRecord input is sampled with TensorFlow
    print(api.init(args.input, label=args.label, output=args.output).message())
    return EXIT_OK


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = api.load(args.config, input=args.input, output=args.output,
                      transform_fn=args.transform_fn, max_invalid_share=args.max_invalid_share,
                      diagnostics_memory_mb=args.diagnostics_memory_mb)
    beam_args = with_runner(beam_args)
    # Before TensorFlow loads: a bad Dataflow command line fails in a second.
    check_dataflow_options(beam_args, input_pattern=config.input_pattern,
                           output_dir=config.output_dir, transform_fn_dir=args.transform_fn)
    quiet_libraries()
    summary = api.run(config, transform_fn=args.transform_fn, on_invalid=args.on_invalid,
                      overwrite=args.overwrite, verify_rows=args.verify_rows,
                      fail_on_drift=args.fail_on_drift,
                      collision_report=not args.no_collision_report, beam_args=beam_args,
                      progress=not args.quiet)
    print(summary.text())
    for line in summary.drift_warnings():
        print(f"featurecross: {line}", file=sys.stderr)
    return EXIT_DRIFT if summary.drift_gate_failed else EXIT_OK


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _profile(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = api.load(args.config, input=args.input,
                      diagnostics_memory_mb=args.diagnostics_memory_mb)
    beam_args = with_runner(beam_args)
    quiet_libraries()
    from pipeline.explore.profile import profile_text
    profile = api.profile(config, max_collision_rate=args.max_collision_rate,
                          beam_args=beam_args)
    print(profile_text(profile))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(profile, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        print(f"\nfigures written to {args.json}")
    return EXIT_OK


def _suggest(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = api.load(args.config, input=args.input)
    beam_args = with_runner(beam_args)
    quiet_libraries()
    from pipeline.explore.suggest import suggest_text
    result = api.suggest(config, args.label, beam_args=beam_args)
    print(suggest_text(result, top=args.top))
    return EXIT_OK


def _verify(args: argparse.Namespace, _beam_args: list[str]) -> int:
    check_scheme(args.output_dir, "OUT")
    check_scheme(args.input, "--input")
    quiet_libraries()
    from pipeline.io.publish import require_complete
    from pipeline.serving.verify import verify_output
    require_complete(args.output_dir, "verify")
    report = verify_output(args.output_dir, args.input, rows=args.rows)
    print(report.text())
    return EXIT_OK if report.ok else EXIT_FAILED

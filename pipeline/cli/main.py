"""The `featurecross` command line: run, validate, verify.

Our own flags are parsed here; everything else is handed to Beam unchanged,
so one command line runs on the DirectRunner and on Dataflow. TensorFlow and
Beam are imported only after their log levels are set, to keep the user's
terminal for our own messages.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from pipeline.config import ConfigError, UnknownKindError, load_config
from pipeline.job.dataflow_options import DataflowOptionsError, check_dataflow_options

# README "Exit codes": a scheduler can tell these apart.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARITY, EXIT_DRIFT = 0, 1, 2, 3, 4


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    if args.command not in ("run", "profile", "suggest") and beam_args:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    try:
        return args.handler(args, beam_args)
    except ConfigError as error:
        print(f"featurecross: config error: {error}", file=sys.stderr)
        return EXIT_USAGE


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

    run = commands.add_parser("run", help="run the batch job (other flags go to Beam)")
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
    run.add_argument("--no-collision-report", action="store_true",
                     help="skip the collision report (report/ and manifest.json 'collisions')")
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check a config and print the plan")
    validate.add_argument("--config", required=True)
    validate.set_defaults(handler=_validate)

    verify = commands.add_parser(
        "verify", help="check that serving/ reproduces the batch output for input rows")
    verify.add_argument("output_dir", metavar="OUT")
    verify.add_argument("--input", required=True, help="raw input file pattern of the run")
    verify.add_argument("--rows", type=int, default=1000, help="rows to check (default 1000)")
    verify.set_defaults(handler=_verify)

    profile = commands.add_parser(
        "profile", help="cardinalities, null shares, top values and collision figures "
                        "(other flags go to Beam)")
    profile.add_argument("--config", required=True, help="the YAML feature config")
    profile.add_argument("--input", help="input file pattern; overrides input.pattern")
    profile.add_argument("--max-collision-rate", type=_rate, metavar="R",
                         help="also find the smallest round num_bins for this rate")
    profile.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    profile.set_defaults(handler=_profile)

    suggest = commands.add_parser(
        "suggest", help="rank candidate crosses by what they add about a label "
                        "(other flags go to Beam)")
    suggest.add_argument("--config", required=True, help="the YAML feature config")
    suggest.add_argument("--label", required=True, metavar="COLUMN",
                         help="a string or int column, or a bucketize feature of the config")
    suggest.add_argument("--top", type=int, default=10, metavar="K",
                         help="candidates to show (default 10)")
    suggest.add_argument("--input", help="input file pattern; overrides input.pattern")
    suggest.set_defaults(handler=_suggest)
    return parser


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0 < rate < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text}")
    return rate


def quiet_libraries() -> None:
    """Keeps TF, absl and Beam chatter below errors (must run before importing TF)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    # Beam logs a worker's exception before re-raising it to us; we report it once.
    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    _import_tensorflow_quietly()
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.ERROR)


def _import_tensorflow_quietly() -> None:
    """Imports TF with stderr captured: its C++ start-up lines ignore log levels.

    If the import fails, what it printed is passed on with the error.
    """
    import tempfile
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _validate(args: argparse.Namespace, _beam_args: list[str]) -> int:
    config = load_config(args.config)
    print(f"{config.path}: valid")
    print(f"  input:  {config.input_format} {config.input_pattern or '(pass --input)'}")
    print(f"  output: {config.output_format} {config.output_dir or '(pass --output)'}")
    analyzers = ", ".join(config.analyzers)
    print(f"  analysis pass: {f'yes ({analyzers})' if analyzers else 'no'}")
    groups: dict[str, list[str]] = {}
    for feature in config.features:
        if feature.generated_by:
            groups.setdefault(feature.generated_by, []).append(feature.name)
    for key, names in groups.items():
        print(f"  {key} expands to {len(names)} crosses: {', '.join(names)}")
    for feature in config.features:
        print(f"  {feature.name}: {_describe(feature)}")
    if config.keep:
        print(f"  kept raw columns: {', '.join(config.keep)}")
    return EXIT_OK


def _describe_hash_key(feature) -> str:
    """The key TF's kernel gets, as the int64 to pass TF and its 64 bits."""
    applied = feature.applied_hash_key
    text = f"hash_key {applied:#x}" if applied >= 0 else \
        f"hash_key {applied} = {applied & (2**64 - 1):#x}"
    if feature.hash_key != applied:
        text += f", given as {feature.hash_key}"
    return text


def _describe(feature) -> str:
    inputs = " x ".join(feature.inputs)
    if feature.kind == "cross" and feature.vocabulary is not None:
        vocabulary = feature.vocabulary
        text = (f"cross {inputs} -> vocabulary (top_k {vocabulary.top_k or 'all'}, "
                f"frequency_threshold {vocabulary.frequency_threshold or 1}) "
                f"+ {vocabulary.num_oov_buckets} OOV buckets")
    elif feature.kind == "cross" and feature.auto_num_bins:
        text = (f"cross {inputs} -> auto bins (smallest round size with at most "
                f"{feature.max_collision_rate:g} collisions; {_describe_hash_key(feature)})")
    elif feature.kind == "cross":
        text = f"cross {inputs} -> {feature.num_bins} bins ({_describe_hash_key(feature)})"
    elif feature.kind == "hash":
        text = f"hash {inputs} -> {feature.num_bins} bins" + (
            f" (salt {list(feature.salt)})" if feature.salt else "")
    elif feature.kind == "bucketize":
        text = (f"bucketize {inputs} -> {feature.width} buckets "
                + ("(quantiles)" if feature.boundaries is None
                   else f"(boundaries {list(feature.boundaries)})"))
    elif feature.kind == "product":
        text = f"product {inputs} (float32)"
    elif feature.kind == "polynomial":
        text = f"polynomial terms {', '.join(feature.polynomial_term_names())} (float32)"
    else:
        raise UnknownKindError(feature, "validate")
    if feature.is_categorical and feature.output != "int":
        text += f", {'sparse ' if feature.sparse else ''}{feature.output}"
    return text + (", per sequence element" if feature.is_sequence else "")


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = load_config(args.config).with_overrides(input_pattern=args.input,
                                                     output_dir=args.output)
    try:
        check_dataflow_options(beam_args, input_pattern=config.input_pattern,
                               output_dir=config.output_dir,
                               transform_fn_dir=args.transform_fn)
    except DataflowOptionsError as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_USAGE
    quiet_libraries()
    from pipeline.io.rows import InvalidInputError, UnreadableFileError
    from pipeline.job.run import JobError, run_job
    from pipeline.serving.parity_sample import ParityError
    from pipeline.transform.batch_transformer import GraphMismatchError
    try:
        summary = run_job(config, beam_args, transform_fn_dir=args.transform_fn,
                          quarantine=args.on_invalid == "quarantine", overwrite=args.overwrite,
                          verify_rows=args.verify_rows, fail_on_drift=args.fail_on_drift,
                          collision_report=not args.no_collision_report)
    except ParityError as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_PARITY
    except (JobError, GraphMismatchError) as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # Beam re-raises worker errors wrapped in its own types
        unreadable = _find_error(error, UnreadableFileError)
        if unreadable is not None:
            print(f"featurecross: unreadable input: {unreadable}", file=sys.stderr)
            return EXIT_FAILED
        invalid = _find_error(error, InvalidInputError)
        if invalid is None:
            raise
        print(f"featurecross: invalid input: {invalid}\n  (rerun with --on-invalid "
              "quarantine to set bad rows aside and go on)", file=sys.stderr)
        return EXIT_FAILED
    print(f"featurecross: done in {summary.seconds:.1f}s "
          f"({summary.rows_per_second:,.0f} rows/s)")
    print(f"  rows read:        {summary.rows_read:,}")
    print(f"  rows written:     {summary.rows_written:,}")
    print(f"  rows quarantined: {summary.rows_quarantined:,}")
    parity = summary.parity_sample
    if parity.get("status") == "passed":
        print(f"  parity sample:    {parity['rows_served']:,} rows served by serving/ "
              "equal the batch output")
    else:
        print(f"  parity sample:    {parity.get('status', 'off')}")
    print(f"  output:           {summary.output_dir}/ (data/, transform_fn/, "
          "transformed_metadata/, serving/, manifest.json"
          + (", report/" if summary.collisions else "")
          + (", invalid/" if args.on_invalid == "quarantine" else "") + ", _SUCCESS)")
    if summary.collisions:
        _print_collisions(summary.collisions)
    return _drift_verdict(summary.drift)


def _drift_verdict(drift: dict | None) -> int:
    """Prints the drift figures that crossed a threshold; EXIT_DRIFT when the gate is on."""
    from pipeline.diagnostics.drift import crossing_text
    if drift is None:
        return EXIT_OK
    if not drift["crossings"]:
        print("  drift:            within every threshold (figures in manifest.json)")
        return EXIT_OK
    for crossing in drift["crossings"]:
        print(f"featurecross: drift: {crossing_text(crossing)}", file=sys.stderr)
    if drift["gate"]:
        print("featurecross: drift gate: exit 4; the output is complete and published",
              file=sys.stderr)
        return EXIT_DRIFT
    print("featurecross: drift is a warning only; --fail-on-drift or a drift: block in the "
          "config makes it exit 4", file=sys.stderr)
    return EXIT_OK


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _print_collisions(collisions: dict) -> None:
    """One line per hashed feature, worst first: what the modulo cost."""
    from pipeline.diagnostics.report import worst_first
    print("  collisions (share of distinct keys sharing a bin; random hash in brackets):")
    width = max(len(name) for name in collisions)
    for name in worst_first(collisions):
        entry = collisions[name]
        print(f"    {name:<{width}}  {entry['collision_rate']:7.2%} "
              f"({entry['expected_collision_rate']:.2%})  {entry['distinct']:,} keys in "
              f"{entry['num_bins']:,} bins" + ("" if entry["method"] == "exact" else ", sketched"))


def _find_error(error: BaseException, kind: type) -> str | None:
    """The message of a `kind` error inside whatever Beam wrapped it in."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text, marker = str(error), f"{kind.__name__}: "
        if isinstance(error, kind) or marker in text:
            message = text.split(marker, 1)[-1].splitlines()[0]
            return message.split(" [while running")[0].strip(" '\"[]")
        error = error.__cause__ or error.__context__
    return None


def _profile(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = load_config(args.config).with_overrides(input_pattern=args.input)
    quiet_libraries()
    import json

    from pipeline.explore.profile import profile_data, profile_text
    from pipeline.job.run import JobError
    try:
        profile = profile_data(config, beam_args, max_collision_rate=args.max_collision_rate)
    except JobError as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(profile_text(profile))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(profile, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        print(f"\nfigures written to {args.json}")
    return EXIT_OK


def _suggest(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = load_config(args.config).with_overrides(input_pattern=args.input)
    quiet_libraries()
    from pipeline.explore.suggest import (
        LabelError,
        NoCandidatesError,
        candidates,
        label_source,
        suggest_crosses,
        suggest_text,
    )
    from pipeline.job.run import JobError
    try:
        label_source(config, args.label)
        candidates(config, args.label)
    except (LabelError, NoCandidatesError) as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = suggest_crosses(config, beam_args, label=args.label)
    except JobError as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(suggest_text(result, top=args.top))
    return EXIT_OK


def _verify(args: argparse.Namespace, _beam_args: list[str]) -> int:
    quiet_libraries()
    from pipeline.io.publish import PublishError, require_complete
    from pipeline.serving.verify import verify_output
    try:
        require_complete(args.output_dir, "verify")
    except PublishError as error:
        print(f"featurecross: {error}", file=sys.stderr)
        return EXIT_FAILED
    report = verify_output(args.output_dir, args.input, rows=args.rows)
    print(report.text())
    return EXIT_OK if report.ok else EXIT_FAILED

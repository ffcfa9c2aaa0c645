"""The NALU paper's arithmetic experiments: simple functions (static and recurrent),
counting with a recurrent NAC, and number words to numbers with an LSTM + NALU.

Prints and writes (in --out) a Markdown table of scaled errors (random model = 100,
perfect = 0) as 'interpolation / extrapolation (success rate over seeds)' for an MLP/LSTM
baseline, NAC, NALU, NALU with separate weights, an input-independent gate trained in two
saturated branches and an NAU selection layer (nalu_stable) and NAU/NMU, a PNG chart, and
results.json.
"""

import json
import os
import time

from kerasseq.cli import make_parser, parse, run


def chosen(parser, what, names, known):
    """The ``names`` asked for (all ``known`` ones when None), in order; an unknown one ends
    the script with the parser's one-line error."""
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        parser.error(f"unknown {what}(s) {' '.join(unknown)}; choose from {' '.join(known)}")
    return tuple(names or known)


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, 1500 steps, 150 counting epochs: 4-8 minutes on 2 CPU cores (JAX)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per (operation, model)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the seeds are FIRST_SEED, FIRST_SEED + 1, ...; 0-2 were used in development, so a table "
                             "to publish takes fresh ones (e.g. 100)")
    parser.add_argument("--steps", type=int, default=10000,
                        help="training steps per run, batch 128 (nalu_stable: up to 2.9 times as many per start, and up "
                             "to 3 starts: its gate branches, snapped selections and the split; nalu_stable_1x is the "
                             "same held to STEPS in all)")
    parser.add_argument("--kinds", nargs="+", choices=("static", "recurrent"), default=["static", "recurrent"])
    parser.add_argument("--models", nargs="+", help="models to run: mlp nac nalu nalu_stable nalu_stable_1x nau_nmu (default: all)")
    parser.add_argument("--operations", nargs="+",
                        help="operations to run: a+b a-b a*b a/b a^2 sqrt(a) (default: all)")
    parser.add_argument("--skip-applied", action="store_true", help="skip counting and language-to-number")
    parser.add_argument("--out", default="nalu_results",
                        help="folder for results.md, results.json, extrapolation.png, and runs.jsonl: every finished "
                             "run, so the same command after an interruption trains only the runs still missing")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="runs trained at once, in worker processes (default: the usable cores); results do not "
                             "depend on it")
    args = parse(parser, argv)

    from tqdm import tqdm

    from kerasseq.arithmetic import experiments as arithmetic

    budget = arithmetic.Budget(steps=1500 if args.quick else args.steps, seeds=2 if args.quick else args.seeds,
                               first_seed=args.first_seed)
    models = chosen(parser, "model", args.models, arithmetic.MODELS)
    operations = chosen(parser, "operation", args.operations, tuple(arithmetic.OPERATIONS))
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    # every finished run goes to runs.jsonl at once: a rerun with the same --out trains only the missing ones
    log = arithmetic.RunLog(os.path.join(args.out, "runs.jsonl"))
    rows, applied = [], {}
    with arithmetic.worker_pool(args.jobs) as pool:
        # the applied experiments go first, so a worker takes them while the others train the table
        pending = {} if args.skip_applied else {
            "counting": pool.submit(arithmetic.counting, epochs=150 if args.quick else 600),
            "language_to_number_mae": pool.submit(arithmetic.language_to_number, epochs=100 if args.quick else 300)}
        with tqdm(total=len(args.kinds) * len(operations) * len(models), desc="arithmetic") as bar:
            for kind in args.kinds:
                rows += arithmetic.simple_function_table(kind, budget, operations=operations, models=models,
                                                         progress=lambda row: bar.update(), pool=pool, log=log)
        applied = {name: future.result() for name, future in pending.items()}
    seeds = f"seeds {budget.first_seed}-{budget.first_seed + budget.seeds - 1}"
    report = [f"Success by Madsen & Johansen's criterion (extrapolation MSE below that of the exact model with every "
              f"weight off by {arithmetic.NEAR_PERFECT_EPSILON:g}), {seeds}, {budget.steps} steps of batch "
              f"{budget.batch_size}: success rate [95% Wilson interval] · median updates to success · median sparsity "
              "error, over the seeds that succeeded.", "", arithmetic.success_table(rows), "",
              "Scaled extrapolation error (random model = 100, perfect = 0), median, and success rate:", "",
              arithmetic.markdown_table(rows), "",
              "Median updates used per run: " + json.dumps({r["model"]: r["steps"] for r in rows if r["operation"] == "a*b"
                                                             and r["kind"] == args.kinds[0]})]
    if applied:
        report += ["", "Counting digits (share of sequences whose final counts are exact, trained on running counts at length 10): "
                   + json.dumps(applied["counting"]),
                   "Number words -> value, test mean absolute error: " + json.dumps(applied["language_to_number_mae"])]
    report.append(f"\nTook {time.time() - started:.0f} s.")
    text = "\n".join(report)
    print(text)
    with open(os.path.join(args.out, "results.md"), "w") as handle:
        handle.write(text + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"rows": rows, **applied}, handle, indent=2)
    arithmetic.plot_table(rows, os.path.join(args.out, "extrapolation.png"))
    return 0


if __name__ == "__main__":
    run(main)

"""Training steps/s of every RNN task model on each Keras backend, as one table.

Each backend runs in its own process (Keras picks its backend at import); every task
trains briefly with its default model and batch size, and the median interval between
batches after 10 warm-up steps gives steps/s.
"""

import argparse
import json
import os
import subprocess
import sys

from kerasseq.backend import BACKENDS
from kerasseq.cli import make_parser, parse, run
from kerasseq.tasks import TASKS


def main(argv=None):
    parser = make_parser(__doc__, backend=False)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the table as a list of {task, backend, steps_per_s}")
    args = parse(parser, argv)
    if args.worker:
        from kerasseq import accel

        if accel.wanted():  # as train_task.py runs them: with kerasseq's speed routes, on before Keras loads
            accel.enable()
        from kerasseq.benchmarks.task_speed import measure_task

        print(json.dumps({"speeds": {task: measure_task(task) for task in args.tasks}, "routes": accel.enabled()}))
        return 0
    speeds, routes = {}, {}
    for backend in args.backends:
        print(f"measuring {backend} ...", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", backend, "--tasks", *args.tasks],
                              capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend})
        if done.returncode:
            print(f"error: {backend} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        speeds[backend], routes[backend] = result["speeds"], ", ".join(result["routes"]) or "none"
    print("| task | " + " | ".join(f"{b} steps/s" for b in args.backends) + " |")
    print("|---|" + "---:|" * len(args.backends))
    for task in args.tasks:
        print(f"| {task} | " + " | ".join(f"{speeds[b][task]:.0f}" for b in args.backends) + " |")
    print("\nkerasseq speed routes: " + "; ".join(f"{backend}: {names}" for backend, names in routes.items()))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([{"task": t, "backend": b, "steps_per_s": speeds[b][t]} for b in args.backends for t in args.tasks],
                      handle, indent=2)
    return 0


if __name__ == "__main__":
    run(main)

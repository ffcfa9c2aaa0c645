"""Train one of the classic RNN task models and print its metric line: TASK name=value ...

The last line of output is parseable, e.g. ``kth-digit accuracy=0.998 long_accuracy=0.993
baseline=0.1``; the model is saved as RUN_DIR/model.keras with RUN_DIR/summary.json.
"""

import argparse
import os

from kerasseq.cli import make_parser, parse, run
from kerasseq.tasks import TASKS


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.epilog = "tasks:\n" + "\n".join(f"  {name:<11} {kind}: {text}" for name, (_, kind, text) in TASKS.items())
    parser.formatter_class = _HelpFormatter
    parser.add_argument("task", choices=list(TASKS), metavar="TASK", help="one of: " + ", ".join(TASKS))
    parser.add_argument("--cell", choices=("rnn", "lstm", "gru"), help="recurrent cell (default: the task's own)")
    parser.add_argument("--layers", type=int, help="stacked recurrent layers (default: the task's own)")
    parser.add_argument("--units", type=int, help="units per recurrent layer (default: the task's own)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the task's own)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default: the task's own)")
    parser.add_argument("--samples", type=int, help="generated examples / series length / vec2seq domain size")
    parser.add_argument("--seed", type=int, default=0, help="seed for data, weights and shuffling (default: 0)")
    parser.add_argument("--data", help="your own data: names folder, sentiment TSV or forecast CSV")
    parser.add_argument("--column", help="forecast: CSV column name or index (default: the last)")
    parser.add_argument("--text", help="hello: the text to learn (default: hihello)")
    parser.add_argument("--problem", help="hello: onehot|embedding; seq2seq: numbers|reverse")
    parser.add_argument("--k", type=int, help="kth-digit: which digit to remember, 1-based (default: 3)")
    parser.add_argument("--max-length", type=int, help="kth-digit: longest training sequence (default: 10)")
    parser.add_argument("--out", help="run folder for model.keras and summary.json (default: task_runs/TASK)")
    args = parse(parser, argv)

    from kerasseq.tasks import run_task
    from kerasseq.tasks.common import TaskOptions

    options = TaskOptions(cell=args.cell, layers=args.layers, units=args.units, epochs=args.epochs, seed=args.seed,
                          out=args.out or os.path.join("task_runs", args.task), data=args.data, column=args.column,
                          text=args.text, problem=args.problem, learning_rate=args.learning_rate, samples=args.samples,
                          k=args.k, max_length=args.max_length,
                          verbose="auto")
    result = run_task(args.task, options)
    print(f"saved {os.path.join(options.out, 'model.keras')}")
    print(result.line())
    return 0


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the task list's line breaks in --help; each option's help states its default."""

if __name__ == "__main__":
    run(main)

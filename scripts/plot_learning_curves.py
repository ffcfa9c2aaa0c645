"""Plot validation word accuracy against CPU-hours for training runs (their history.csv)."""

from kerasseq.cli import make_parser, parse, run


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("runs", nargs="+", help="run folders written by train_crnn.py")
    parser.add_argument("--out", default="learning_curves.png", help="PNG to write")
    parser.add_argument("--labels", nargs="+", help="one label per run (default: folder names)")
    args = parse(parser, argv)

    from kerasseq.training.learning_curves import plot_learning_curves

    curves = plot_learning_curves(args.runs, args.out, args.labels)
    print("| run | CPU-hours | word accuracy |\n|---|---:|---:|")
    for label, points in curves.items():
        for hours, accuracy in points:
            print(f"| {label} | {hours:.2f} | {accuracy:.3f} |")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    run(main)

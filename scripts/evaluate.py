"""Score a recogniser on labelled images: word accuracy, CER, normalised edit distance, speed."""

import json
import sys

from kerasseq.cli import make_parser, parse, run


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--model", help="a .keras recogniser (default: the shipped English word recogniser)")
    parser.add_argument("--labels", required=True, help="labels.tsv, an image folder/MJSynth source, or a dataset folder")
    parser.add_argument("--split", choices=("train", "val"), default="val", help="which split of a dataset folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N items (0: all)")
    parser.add_argument("--decoder", choices=("greedy", "beam"), default="greedy")
    parser.add_argument("--beam-width", type=int, default=10)
    parser.add_argument("--lexicon", help="word list for lexicon-constrained decoding")
    parser.add_argument("--errors", metavar="OUT.tsv", help="write each misread item")
    parser.add_argument("--json", metavar="OUT.json", help="also write the report as JSON")
    args = parse(parser, argv)

    from kerasseq.ocr.decoding import Lexicon
    from kerasseq.ocr.evaluation import evaluate, write_errors
    from kerasseq.ocr.predictor import Predictor, load_recognizer

    model = load_recognizer(args.model)
    lexicon = Lexicon.from_file(args.lexicon, model.charset) if args.lexicon else None
    predictor = Predictor(model, args.decoder, args.beam_width, lexicon)
    report, pairs = evaluate(predictor, args.labels, args.split, args.limit, progress=sys.stderr.isatty())
    for key in ("count", "unreadable", "word_accuracy", "word_accuracy_low", "word_accuracy_high", "word_accuracy_nocase", "cer", "ned",
                "images_per_second"):
        value = report[key]
        print(f"{key:22s} {value:.4f}" if isinstance(value, float) else f"{key:22s} {value}")
    if args.errors:
        write_errors(pairs, args.errors)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    run(main)

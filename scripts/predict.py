"""Read the words in images with a trained recogniser: path<TAB>text<TAB>confidence per image."""

import json
import sys

from kerasseq.cli import make_parser, parse, run

#: Images drawn on the --sheet picture, the first ones read.
SHEET_ROWS = 64


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders (walked)")
    parser.add_argument("--model", help="a .keras recogniser saved by train_crnn.py (default: the shipped English word recogniser)")
    parser.add_argument("--decoder", choices=("greedy", "beam"), default="greedy")
    parser.add_argument("--beam-width", type=int, default=10)
    parser.add_argument("--lexicon", help="word list: answer with the lexicon word that best explains each image")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--format", choices=("tsv", "json"), default="tsv")
    parser.add_argument("--sheet", metavar="OUT.png", help="also draw the images with their readings into one PNG")
    args = parse(parser, argv)

    from kerasseq.ocr.decoding import Lexicon
    from kerasseq.ocr.predictor import Predictor, collect_files, load_recognizer
    from kerasseq.ocr.sheet import draw_sheet

    model = load_recognizer(args.model)
    lexicon = Lexicon.from_file(args.lexicon, model.charset) if args.lexicon else None
    predictor = Predictor(model, args.decoder, args.beam_width, lexicon, args.batch_size)
    files = collect_files(args.inputs)
    predictions = predictor.read_files(files, progress=len(files) > 100 and sys.stderr.isatty(),
                                      keep_canvases=SHEET_ROWS if args.sheet else 0)
    for p in predictions:
        if p.error:
            print(f"error: {p.path}: {p.error}", file=sys.stderr)
    good = [p for p in predictions if not p.error]
    if args.format == "json":
        print(json.dumps([p.as_dict() for p in predictions], indent=1))
    else:
        for p in good:
            print(f"{p.path}\t{p.text}\t{p.confidence:.4f}")
    if args.sheet and good:
        shown = [p for p in good if p.canvas is not None]
        draw_sheet([p.canvas for p in shown],
                   [f"{p.text}  ({p.confidence:.2f})" for p in shown], args.sheet)
    return 1 if len(good) < len(predictions) else 0


if __name__ == "__main__":
    run(main)

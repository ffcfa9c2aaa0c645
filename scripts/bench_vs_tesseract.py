"""A recogniser against Tesseract 5 on the same word images: word accuracy (case-sensitive
and not), CER and images/s per validation split (clean, noisy, low-resolution), in one
table.

The splits are rendered in the fonts the model's record holds out (MODEL.heldout.txt
beside MODEL.keras; the shipped model has one), with a warning for any of them not
installed here; for a model without a record, in the fonts that `render_words.py
--holdout-fonts K --seed S` holds out on this machine. Tesseract reads with
`--psm 7` (one line) and the model's characters as its whitelist. Set-up: `apt-get
install tesseract-ocr`; without it the model's rows are printed and Tesseract's are
skipped, with a note saying so.
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerasseq.cli import make_parser, parse, run  # noqa: E402


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--model", help="a .keras recogniser saved by train_crnn.py (default: the shipped English word recogniser)")
    parser.add_argument("--count", type=int, default=500, help="images per split")
    parser.add_argument("--holdout-fonts", type=int, default=20,
                        help="for a model without a font record: K of its training data's render_words.py")
    parser.add_argument("--seed", type=int, default=0, help="S of the training data's render_words.py; also the words' seed")
    parser.add_argument("--fonts", nargs="+", help="the training data's --fonts, if it named any")
    parser.add_argument("--work", help="keep the rendered splits in this folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the rows as a list of objects")
    args = parse(parser, argv)

    from data_prep.benchmark_splits import font_record, machine_held_out_fonts, recorded_held_out_fonts, render_splits
    from kerasseq.errors import DataError
    from kerasseq.ocr_benchmark import compare, format_table
    from kerasseq.predictor import Predictor, load_recognizer, pretrained_model_path
    from kerasseq.tesseract import INSTALL_HINT, find_tesseract

    model_path = args.model or pretrained_model_path()
    predictor = Predictor(load_recognizer(model_path))
    record = font_record(model_path)
    if record:
        held_out, missing, seen = recorded_held_out_fonts(*record, fonts=args.fonts)
        if missing:
            print(f"warning: {len(missing)} of the model's {len(record[1])} held-out fonts are not installed here: "
                  f"{', '.join(missing)}", file=sys.stderr)
        if seen:
            print(f"warning: left out, the model's record lists them as training fonts too: {', '.join(seen)}",
                  file=sys.stderr)
        if not held_out:
            raise DataError(f"none of the fonts {model_path} held out is installed here; install them "
                            f"(see its model card) or pass --fonts")
    else:
        held_out = machine_held_out_fonts(args.holdout_fonts, args.seed, args.fonts)
    tesseract = find_tesseract()
    with tempfile.TemporaryDirectory() as temporary:
        folders, fonts = render_splits(args.work or temporary, args.count, held_out, args.seed,
                                       progress=sys.stderr.isatty())
        rows = compare(predictor, folders, tesseract)
    print(format_table(rows))
    print(f"\nheld-out fonts: {', '.join(fonts)}")
    if not tesseract:
        print(f"tesseract: not found (Tesseract 5 or later), its rows are skipped; {INSTALL_HINT}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    run(main)

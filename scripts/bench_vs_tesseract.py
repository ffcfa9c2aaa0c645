"""A recogniser against Tesseract 5 on the same word images: word accuracy (case-sensitive
and not), CER and images/s per validation split (clean, noisy, low-resolution), in one
table.

The splits are rendered in the fonts that `render_words.py --holdout-fonts K --seed S`
holds out, so pass the K and S of the model's training data. Tesseract reads with
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
    parser = make_parser(__doc__)
    parser.add_argument("--model", help="a .keras recogniser saved by train_crnn.py (default: the shipped English word recogniser)")
    parser.add_argument("--count", type=int, default=500, help="images per split")
    parser.add_argument("--holdout-fonts", type=int, default=20,
                        help="K of the training data's render_words.py (20: the shipped model's)")
    parser.add_argument("--seed", type=int, default=0, help="S of the training data's render_words.py")
    parser.add_argument("--fonts", nargs="+", help="the training data's --fonts, if it named any")
    parser.add_argument("--work", help="keep the rendered splits in this folder (default: a temporary one)")
    parser.add_argument("--json", help="also write the rows as a list of objects")
    args = parse(parser, argv)

    from data_prep.benchmark_splits import render_splits
    from kerasseq.ocr_benchmark import compare, format_table
    from kerasseq.predictor import Predictor, load_recognizer
    from kerasseq.tesseract import INSTALL_HINT, find_tesseract

    predictor = Predictor(load_recognizer(args.model))
    tesseract = find_tesseract()
    with tempfile.TemporaryDirectory() as temporary:
        folders, fonts = render_splits(args.work or temporary, args.count, args.holdout_fonts, args.seed, args.fonts,
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

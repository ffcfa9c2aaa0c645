"""A recogniser against its peers, Tesseract 5 and EasyOCR, on the same word images: word
accuracy (case-sensitive, with its 95% interval, and ignoring case), CER and images/s per
validation split (clean, noisy, 12-18 px, thin or condensed faces), then word accuracy per
font family.

The splits are rendered in the fonts the model's record holds out (MODEL.heldout.txt
beside MODEL.keras; the shipped model has one), with a warning for any of them not
installed here; for a model without a record, in the fonts that `render_words.py
--holdout-fonts K --seed S` holds out on this machine. Tesseract reads with
`--psm 7` (one line) and the model's characters as its whitelist; EasyOCR's recogniser
reads each image whole (no detector) with the same characters allowed. Set-up: `apt-get
install tesseract-ocr`, and `make peers` for EasyOCR (an interpreter of its own,
.venv-peers, found by default); a peer that is missing is skipped with a note.
"""

import json
import os
import sys
import tempfile

from kerasseq.cli import make_parser, parse, run

READERS = ("kerasseq", "tesseract", "easyocr")


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--model", help="a .keras recogniser saved by train_crnn.py (default: the shipped English word recogniser)")
    parser.add_argument("--count", type=int, default=500, help="images per split")
    parser.add_argument("--holdout-fonts", type=int, default=20,
                        help="for a model without a font record: K of its training data's render_words.py")
    parser.add_argument("--seed", type=int, default=0, help="S of the training data's render_words.py; also the words' seed")
    parser.add_argument("--fonts", nargs="+", help="the training data's --fonts, if it named any")
    parser.add_argument("--work", help="keep the rendered splits in this folder (default: a temporary one)")
    parser.add_argument("--readers", nargs="+", choices=READERS[1:], default=list(READERS[1:]), help="peers to run")
    parser.add_argument("--easyocr-python",
                        help="the interpreter that runs EasyOCR (default: $KERASSEQ_PEERS_PYTHON, else .venv-peers/bin/python "
                             "if it can, else this one)")
    parser.add_argument("--json", help="also write the rows as a list of objects")
    args = parse(parser, argv)

    from data_prep.benchmark_splits import machine_held_out_fonts, recorded_held_out_fonts, render_splits
    from data_prep.rendering import font_family
    from kerasseq.benchmarks import easyocr_peer, tesseract
    from kerasseq.benchmarks.readers import compare, format_table
    from kerasseq.data.font_record import read_font_record
    from kerasseq.errors import DataError
    from kerasseq.ocr.predictor import Predictor, load_recognizer, pretrained_model_path

    model_path = args.model or pretrained_model_path()
    predictor = Predictor(load_recognizer(model_path))
    record = read_font_record(model_path)
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
    peers, skipped = {}, []
    if "tesseract" in args.readers:
        executable = tesseract.find_tesseract()
        if executable:
            peers["tesseract"] = lambda paths, characters: tesseract.read_with_tesseract(paths, characters, executable)
        else:
            skipped.append(f"tesseract: not found (Tesseract 5 or later), its rows are skipped; {tesseract.INSTALL_HINT}")
    if "easyocr" in args.readers:
        python = easyocr_peer.find_easyocr(args.easyocr_python)
        if python:
            peers["easyocr"] = lambda paths, characters: easyocr_peer.read_with_easyocr(paths, characters, python)
        else:
            skipped.append(f"easyocr: not importable by {' or '.join(easyocr_peer.candidate_pythons(args.easyocr_python))}, "
                           f"its rows are skipped; "
                           f"{easyocr_peer.INSTALL_HINT}")
    family_of = {os.path.basename(font): font_family(font) for font in held_out}
    with tempfile.TemporaryDirectory() as temporary:
        folders, fonts = render_splits(args.work or temporary, args.count, held_out, args.seed,
                                       progress=sys.stderr.isatty())
        rows, family_rows = compare(predictor, folders, peers, family_of)
    print(format_table(rows))
    print()
    print(format_table(family_rows, group="font family"))
    print(f"\nheld-out fonts: {', '.join(fonts)}")
    for note in skipped:
        print(note)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"splits": rows, "families": family_rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    run(main)

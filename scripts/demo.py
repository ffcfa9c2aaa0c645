"""The main job end to end on a fresh machine, no data needed.

Renders word images (some fonts held out for validation), preprocesses them, trains the
`small` CRNN for a few minutes, evaluates it on the unseen fonts, reads a handful of
images into a prediction sheet, and prints the word accuracy reached.
"""

import os
import shutil
import time

from kerasseq.cli import make_parser, parse, run
from kerasseq.ocr.presets import PRESETS


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--out", default="demo_run", help="folder for words/, data/, run/ and sheet.png")
    parser.add_argument("--count", type=int, default=8000, help="word images to render")
    parser.add_argument("--vocabulary", type=int, default=1000, help="distinct words drawn from the embedded English list (0: all 73k)")
    parser.add_argument("--holdout-fonts", type=int, default=4, help="fonts kept out of training; validation uses only them")
    parser.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    parser.add_argument("--preset", choices=list(PRESETS), default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, argv)

    import numpy as np

    from data_prep.building import PreprocessConfig, build_dataset
    from data_prep.rendering import default_lexicon, render_dataset
    from kerasseq.data.dataset import open_split
    from kerasseq.ocr.evaluation import evaluate
    from kerasseq.ocr.predictor import Predictor, load_recognizer
    from kerasseq.ocr.sheet import draw_sheet
    from kerasseq.training.trainer import TrainConfig, train_recognizer

    started = time.monotonic()
    words = default_lexicon()
    if args.vocabulary:
        words = list(np.random.default_rng(args.seed).choice(words, size=min(args.vocabulary, len(words)), replace=False))
    words_dir, data_dir, run_dir = (os.path.join(args.out, name) for name in ("words", "data", "run"))
    print(f"1/5 rendering {args.count} word images ({len(words)} distinct words) into {words_dir}", flush=True)
    render_dataset(words_dir, args.count, words=words, seed=args.seed, holdout_fonts=args.holdout_fonts)
    print(f"2/5 preprocessing into {data_dir}", flush=True)
    build_dataset(words_dir, data_dir, PreprocessConfig())
    print(f"3/5 training the {args.preset} preset for up to {args.minutes:g} minutes into {run_dir}", flush=True)
    backup = os.path.join(run_dir, "backup")
    config = TrainConfig(preset=args.preset, epochs=1000, batch_size=args.batch_size, max_minutes=args.minutes,
                         patience=1000, seed=args.seed, resume=os.path.isdir(backup))
    train_recognizer(data_dir, run_dir, config, verbose=2)
    shutil.rmtree(backup, ignore_errors=True)  # the time limit is the demo's end: a later demo starts afresh
    print("4/5 evaluating on the held-out fonts", flush=True)
    predictor = Predictor(load_recognizer(os.path.join(run_dir, "model.keras")))
    report, _ = evaluate(predictor, data_dir, "val")
    print("5/5 reading 16 validation images into the prediction sheet", flush=True)
    val = open_split(data_dir, "val")
    images, _ = val.gather(*val.locate(np.arange(min(16, len(val)))))
    readings = predictor.read_canvases(images)
    sheet = os.path.join(args.out, "sheet.png")
    draw_sheet(images, [f"{r.text} ({r.confidence:.2f}) truth {t}" for r, t in zip(readings, val.texts)], sheet)
    print(f"wrote {sheet}")
    minutes = (time.monotonic() - started) / 60
    print(f"demo word_accuracy={report['word_accuracy']:.3f} word_accuracy_nocase={report['word_accuracy_nocase']:.3f} "
          f"cer={report['cer']:.3f} val_images={report['count']} minutes={minutes:.1f}")
    return 0


if __name__ == "__main__":
    run(main)

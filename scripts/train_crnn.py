"""Train a CRNN (or the pixel-column RNN) word recogniser on a preprocessed dataset folder."""

from kerasseq.backend import PRECISIONS
from kerasseq.cli import make_parser, parse, run
from kerasseq.ocr.presets import PRESETS


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--data", required=True, nargs="+", help="dataset folder(s) made by data_prep/preprocess.py")
    parser.add_argument("--out", required=True, help="run folder: model.keras, history.csv, training_curves.png")
    parser.add_argument("--preset", choices=list(PRESETS), default="small",
                        help="blog: the reference network; medium, small: half and quarter width with batch norm; rnn: raw pixel columns, no convolutions")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epoch-images", type=int, default=0,
                        help="images per epoch (0: one pass over the data); a large pool then gets a validation point and a resumable commit this often")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-minutes", type=float, default=0, help="stop after this many minutes (0: no limit)")
    parser.add_argument("--patience", type=int, default=5, help="early stopping patience in epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", action="store_true", help="random contrast, brightness and noise while training")
    parser.add_argument("--clipnorm", type=float, default=0, help="clip gradient norm (0: off)")
    parser.add_argument("--init-from", default="", metavar="MODEL",
                        help="fine-tune: start from the weights of this saved reader (same --preset and charset), "
                             "e.g. kerasseq/resources/words_alnum.keras")
    parser.add_argument("--keep-epochs", action="store_true",
                        help="also keep every epoch's model in OUT/epochs/, e.g. to average the last ones (scripts/average_weights.py)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="mixed_bfloat16: compute in bfloat16 on float32 weights (faster on GPUs and on CPUs with AVX512-BF16 or AMX; see README)")
    parser.add_argument("--distribute", action="store_true", help="data-parallel over all local devices (JAX, TensorFlow; see README for multi-host)")
    args = parse(parser, argv)

    from kerasseq.training.trainer import TrainConfig, train_recognizer

    config = TrainConfig(
        preset=args.preset, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        max_minutes=args.max_minutes, patience=args.patience, seed=args.seed, augment=args.augment,
        resume=args.resume, clipnorm=args.clipnorm, distribute=args.distribute, precision=args.precision,
        epoch_images=args.epoch_images, init_from=args.init_from, keep_epochs=args.keep_epochs,
    )
    summary = train_recognizer(args.data, args.out, config)
    if not summary["val_images"]:
        print("the data has no validation split: the model kept is the one with the lowest training loss, "
              "and no word accuracy was measured")
    accuracy = summary.get("val_word_accuracy")
    print(f"saved {summary['model']} after {summary.get('epochs_run', 0)} epochs"
          + (f"; validation word accuracy {accuracy:.3f}" if accuracy is not None else ""))
    if not summary["finished"]:
        print(f"stopped before the last epoch; rerun with --resume --out {args.out} to continue")
    return 0


if __name__ == "__main__":
    run(main)

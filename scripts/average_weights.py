"""Average the weights of a training run's last epochs into one reader (stochastic weight
averaging): train with --keep-epochs, then average OUT/epochs/ and measure the batch-norm
statistics again on training images. Writes a float32 .keras reader with the run's font record."""

import glob
import os

from kerasseq.cli import make_parser, parse, run


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--run", required=True, help="a run folder of train_crnn.py --keep-epochs (its epochs/ and model.keras)")
    parser.add_argument("--last", type=int, default=5, help="average this many of the run's last epochs")
    parser.add_argument("--data", required=True, nargs="+", help="dataset folder(s) whose training images measure the batch-norm statistics")
    parser.add_argument("--batches", type=int, default=200, help="batches of training images to measure them on")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--augment", action="store_true", help="measure on augmented images, as the run trained (train_crnn.py --augment)")
    parser.add_argument("--seed", type=int, default=0, help="the images drawn and their augmentation")
    parser.add_argument("--out", required=True, help="the averaged reader, a .keras file")
    args = parse(parser, argv)

    from kerasseq.data.batches import WordImageBatches
    from kerasseq.data.dataset import open_split
    from kerasseq.errors import DataError
    from kerasseq.ocr.export import inference_copy, save_for_reading
    from kerasseq.training.trainer import EPOCHS_DIR, MODEL_FILE
    from kerasseq.training.weight_averaging import average_recognizers, recalibrate_batchnorm

    epochs = sorted(glob.glob(os.path.join(args.run, EPOCHS_DIR, "epoch-[0-9]*[0-9].keras")))
    if args.last < 1 or len(epochs) < args.last:
        raise DataError(f"{args.run} keeps {len(epochs)} epoch(s) in {EPOCHS_DIR}/, --last asks for {args.last} "
                        "(train with --keep-epochs)")
    chosen = epochs[-args.last:]
    print("averaging " + ", ".join(os.path.basename(path) for path in chosen))
    reader = inference_copy(average_recognizers(chosen))
    batches = WordImageBatches(open_split(args.data, "train"), args.batch_size, shuffle=True, augment_images=args.augment, seed=args.seed)
    measured = recalibrate_batchnorm(reader, batches, args.batches, progress=True)
    save_for_reading(reader, os.path.join(args.run, MODEL_FILE), args.out)
    print(f"saved {args.out}: the mean of {len(chosen)} epochs, batch-norm statistics over {measured} training images")
    return 0


if __name__ == "__main__":
    run(main)

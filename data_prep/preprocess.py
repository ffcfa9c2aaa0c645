"""Preprocess labelled word images into a kerasseq dataset folder (uint8 shards)."""

from kerasseq.cli import make_parser, parse, run


def main(argv=None):
    from data_prep.building import SPLIT_METHODS, PreprocessConfig, build_dataset
    from kerasseq.ocr.images import MODES

    parser = make_parser(__doc__)
    parser.add_argument("source", help="folder (labels.tsv, MJSynth layout, or images named by their text), labels .tsv or MJSynth annotation*.txt")
    parser.add_argument("--out", required=True, help="dataset folder to write")
    parser.add_argument("--mode", choices=MODES, default="resize",
                        help="resize: keep aspect, height 32, pad; blog: the reference (pad to 32x128 with white, drop larger images)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N items (0: all)")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: all cores)")
    parser.add_argument("--split", choices=SPLIT_METHODS, default="auto",
                        help="every: every Nth item to validation; column: labels.tsv's split column (font hold-out); "
                             "random: seeded; auto: column if present, else every")
    parser.add_argument("--val-every", type=int, default=10, help="with --split every: every Nth item goes to validation (0: none)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="with --split random: share of validation items")
    parser.add_argument("--seed", type=int, default=0, help="seed of --split random")
    parser.add_argument("--charset", default="alnum",
                        help="alnum (the reference's 62), lower, digits, printable, auto (from the data), @FILE, or the characters themselves")
    parser.add_argument("--shard-index", type=int, default=0, help="this machine's part, with --num-shards")
    parser.add_argument("--num-shards", type=int, default=1, help="split one big source over this many machines")
    parser.add_argument("--shard-size", type=int, default=10_000, help="images per output shard")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parse(parser, argv)
    config = PreprocessConfig(
        mode=args.mode, limit=args.limit, workers=args.workers, split=args.split, val_every=args.val_every,
        val_fraction=args.val_fraction, seed=args.seed, charset=args.charset, shard_index=args.shard_index,
        num_shards=args.num_shards, shard_size=args.shard_size,
    )
    manifest = build_dataset(args.source, args.out, config, progress=not args.quiet)
    counts = manifest["counts"]
    print(f"wrote {args.out}: {counts['train']} train, {counts['val']} val, {manifest['skipped_count']} skipped (reasons in manifest.json)")
    return 0


if __name__ == "__main__":
    run(main)

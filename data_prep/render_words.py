"""Render synthetic word images (MJSynth-style) with a labels.tsv, deterministic per seed."""

from kerasseq.cli import make_parser, parse, run


def main(argv=None):
    from data_prep.rendering import EFFECTS, RenderOptions, read_lexicon, render_dataset
    from kerasseq.data.font_record import read_names

    parser = make_parser(__doc__)
    parser.add_argument("--out", required=True, help="folder for the images and labels.tsv")
    parser.add_argument("--count", type=int, required=True, help="number of images")
    parser.add_argument("--lexicon", help="word list, one per line (default: the embedded English list)")
    parser.add_argument("--fonts", nargs="+", help="TTF/OTF files or folders (default: system fonts + Pillow's embedded font)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: all cores)")
    parser.add_argument("--charset", default="alnum", help="alnum, lower, digits, printable, @FILE, or the characters")
    parser.add_argument("--holdout-fonts", type=int, default=0, help="keep K fonts out of training; their images are the validation split")
    parser.add_argument("--holdout-families", type=int, default=0,
                        help="keep every face of K font families out of training (instead of --holdout-fonts)")
    parser.add_argument("--holdout-seed", type=int,
                        help="seed of the held-out choice (default: --seed), so that parts rendered with other seeds hold out the same fonts")
    parser.add_argument("--holdout-list", metavar="FILE",
                        help="hold out every family with a face named in FILE (font file names, one a line, "
                             "e.g. a model's NAME.heldout.txt), whatever fonts were installed since")
    parser.add_argument("--val-share", type=float, default=0.1, help="with a held-out choice: share of images drawn in held-out fonts")
    parser.add_argument("--digit-share", type=float, default=0.1, help="share of digit strings")
    parser.add_argument("--height", type=int, default=32, help="image height in pixels (0: natural size)")
    parser.add_argument("--max-height", type=int, default=0, help="draw each image's height from --height..this")
    parser.add_argument("--format", choices=("png", "jpg"), default="png", help="image file format")
    parser.add_argument("--disable", nargs="+", default=[], metavar="EFFECT", help=f"switch effects off: {' '.join(EFFECTS)}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parse(parser, argv)
    options = RenderOptions(disabled=tuple(args.disable), digit_share=args.digit_share, height=args.height,
                            max_height=args.max_height, image_format=args.format)
    words = read_lexicon(args.lexicon) if args.lexicon else None
    holdout_list = read_names(args.holdout_list) if args.holdout_list else None
    rows = render_dataset(args.out, args.count, words=words, fonts=args.fonts, seed=args.seed, workers=args.workers,
                          charset=args.charset, holdout_fonts=args.holdout_fonts, holdout_families=args.holdout_families,
                          holdout_seed=args.holdout_seed, val_share=args.val_share, holdout_list=holdout_list,
                          options=options, progress=not args.quiet)
    held = sorted({row[2] for row in rows if row[3] == "val"})
    print(f"wrote {len(rows)} images and labels.tsv to {args.out}" + (f"; validation fonts: {', '.join(held)}" if held else ""))
    return 0


if __name__ == "__main__":
    run(main)

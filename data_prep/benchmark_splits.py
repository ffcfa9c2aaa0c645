"""The validation splits of ``scripts/bench_vs_tesseract.py``: the same words rendered
clean, noisy and at low resolution, all in fonts held out from training.

The held-out fonts are the ones ``render_words.py --holdout-fonts K --seed S`` keeps out
of training on the same machine (same fonts installed), so a model trained on that
command's ``train`` split never saw them.
"""

import os

from data_prep.rendering import RenderOptions, render_dataset

#: Effects that make an image anything but dark text on white.
NOISE_EFFECTS = ("levels", "invert", "rotate", "shear", "blur", "noise", "jpeg")

#: How each split is drawn: ``clean`` dark text on white, 32 px high; ``noisy`` every
#: effect of the renderer at its usual rate (contrast, inversion, rotation, shear, blur,
#: noise, JPEG); ``lowres`` clean text in an image 12-18 px high.
SPLIT_OPTIONS = {
    "clean": RenderOptions(disabled=NOISE_EFFECTS + ("lowres",)),
    "noisy": RenderOptions(disabled=("lowres",)),
    "lowres": RenderOptions(disabled=NOISE_EFFECTS, height=12, max_height=18),
}


def render_splits(out, count, holdout_fonts, seed=0, fonts=None, words=None, workers=0, progress=False):
    """Render ``count`` images for each split into ``out/<split>/`` (images + labels.tsv),
    every image in one of the fonts that ``holdout_fonts`` and ``seed`` hold out.

    The same seed draws the same words and fonts in every split, so the splits differ
    only in how the words are drawn. Returns ({split: folder}, sorted held-out font names).
    """
    folders, held = {}, set()
    for split, options in SPLIT_OPTIONS.items():
        folder = os.path.join(out, split)
        rows = render_dataset(folder, count, words=words, fonts=fonts, seed=seed, workers=workers,
                              holdout_fonts=holdout_fonts, val_share=1.0, options=options, progress=progress)
        folders[split] = folder
        held.update(row[2] for row in rows)
    return folders, sorted(held)

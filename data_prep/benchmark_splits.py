"""The validation splits of the readers benchmark: the same words rendered clean, noisy,
at low resolution and in thin or condensed faces, all in fonts held out from the model's
training.

Which fonts are held out comes from the model's own record when it has one
(``MODEL.fonts.txt``: its training font files, ``MODEL.heldout.txt``: the held-out
ones, beside the ``.keras`` file), so a benchmark on another machine holds out what the
model really never saw; else from ``render_words.py --holdout-fonts K --seed S`` on this
machine's fonts.
"""

import os
import re

from data_prep.rendering import RenderOptions, find_fonts, render_dataset, split_fonts, usable_fonts
from kerasseq.ocr.charset import Charset

#: Effects that make an image anything but dark text on white.
NOISE_EFFECTS = ("levels", "invert", "rotate", "shear", "blur", "noise", "jpeg")

#: How each split is drawn: ``clean`` dark text on white, 32 px high; ``noisy`` every
#: effect of the renderer at its usual rate (contrast, inversion, rotation, shear, blur,
#: noise, JPEG); ``lowres`` clean text in an image 12-18 px high; ``thin`` clean text in
#: the held-out faces that are thin, light or condensed (:data:`THIN_OR_CONDENSED`).
SPLIT_OPTIONS = {
    "clean": RenderOptions(disabled=NOISE_EFFECTS + ("lowres",)),
    "noisy": RenderOptions(disabled=("lowres",)),
    "lowres": RenderOptions(disabled=NOISE_EFFECTS, height=12, max_height=18),
    "thin": RenderOptions(disabled=NOISE_EFFECTS + ("lowres",)),
}
#: Font file names of thin, hairline, light, condensed, narrow or compressed faces: the
#: style word capitalised inside the name ("Lato-ThinItalic", "DejaVuSansCondensed") or
#: lower case after a separator ("foo_light"), so "Highlight" is not one.
THIN_OR_CONDENSED = re.compile(
    r"(?:(?<=[a-z0-9])|^|[-_ ])(?:Thin|Hairline|ExtraLight|UltraLight|Light|Condensed|Cond|Narrow|Compressed)(?=$|[-_. A-Z0-9])"
    r"|[-_ ](?:thin|hairline|light|condensed|cond|narrow|compressed)(?=$|[-_. ])")


def thin_or_condensed(fonts):
    """The fonts among ``fonts`` (paths) whose file name marks a thin or condensed face."""
    return [font for font in fonts if THIN_OR_CONDENSED.search(os.path.basename(font))]


def recorded_held_out_fonts(training, held_out, fonts=None):
    """The held-out fonts of a record that this machine has: (font paths installed here
    whose file name is in ``held_out`` and not in ``training``, held-out names not
    installed here, held-out names that the record also lists as training fonts)."""
    installed = {os.path.basename(font): font for font in find_fonts(fonts)}
    seen = sorted(set(held_out) & set(training))
    usable = [installed[name] for name in held_out if name in installed and name not in seen]
    missing = sorted(name for name in held_out if name not in installed)
    return usable, missing, seen


def machine_held_out_fonts(holdout_fonts, seed=0, fonts=None):
    """The fonts that ``render_words.py --holdout-fonts K --seed S`` keeps out of training
    among this machine's usable fonts (or ``fonts``)."""
    usable, _ = usable_fonts(find_fonts(fonts), Charset.from_spec("alnum"))
    return split_fonts(usable, holdout_fonts=holdout_fonts, seed=seed)[1]


def render_splits(out, count, fonts, seed=0, words=None, workers=0, progress=False):
    """Render ``count`` images for each split into ``out/<split>/`` (images + labels.tsv),
    every image in one of the held-out font files ``fonts`` (the ``thin`` split in those
    of them that are thin or condensed; it is left out when there are none).

    The same seed draws the same words in every split, so the clean, noisy and
    low-resolution splits differ only in how the words are drawn. Returns
    ({split: folder}, sorted font names used).
    """
    folders, used = {}, set()
    for split, options in SPLIT_OPTIONS.items():
        split_fonts = thin_or_condensed(fonts) if split == "thin" else list(fonts)
        if not split_fonts:
            continue
        folder = os.path.join(out, split)
        rows = render_dataset(folder, count, words=words, fonts=split_fonts, seed=seed, workers=workers,
                              val_share=0.0, options=options, progress=progress)
        folders[split] = folder
        used.update(row[2] for row in rows)
    return folders, sorted(used)

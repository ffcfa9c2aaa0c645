"""Rendering synthetic word images, MJSynth-style, deterministically per seed.

Every image is drawn from its own generator ``numpy.random.default_rng([seed, index])``,
so the bytes of image ``index`` depend only on the seed, the index, the fonts and the
options, never on the number of worker processes.
"""

import dataclasses
import functools
import io
import multiprocessing
import os
import re
from importlib import resources

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from data_prep.building import label_problem
from data_prep.font_verdicts import FontVerdicts
from kerasseq import atomic
from kerasseq.errors import DataError
from kerasseq.ocr.charset import DEFAULT_CHARSET, Charset

#: Stand-in name for Pillow's embedded scalable font, present on every machine.
PILLOW_FONT = "pillow-default"
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))
FONT_EXTENSIONS = (".ttf", ".otf")
#: Effects that can be switched off with ``--disable``.
EFFECTS = ("size", "stroke", "levels", "invert", "rotate", "shear", "blur", "noise", "jpeg", "padding", "lowres")
#: With the ``lowres`` effect: the share of images drawn 10-20 px high (then blurred,
#: noised and JPEG-compressed at that size, as a small word photographed is).
LOWRES_SHARE = 0.25
LOWRES_HEIGHTS = (10, 20)


@dataclasses.dataclass
class RenderOptions:
    """How the words are drawn: which effects are on and the share of digit strings."""

    disabled: tuple = ()
    digit_share: float = 0.1
    height: int = 32
    #: above ``height``: each image's height is drawn from height..max_height pixels
    max_height: int = 0
    image_format: str = "png"

    def on(self, effect):
        """True unless ``effect`` (one of EFFECTS) was disabled."""
        return effect not in self.disabled


def default_lexicon():
    """The embedded English word list (73k lower-case words, from Debian's wamerican)."""
    text = resources.files("kerasseq.resources").joinpath("english_words.txt").read_text(encoding="utf-8")
    return text.split()


def read_lexicon(path):
    """Words of a lexicon file, one per line (surrounding blanks trimmed, empty lines skipped)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError as error:
        raise DataError(f"cannot read lexicon {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(f"lexicon {path} is not UTF-8 text") from None


def bundled_fonts_folder():
    """matplotlib's font folder (DejaVu, STIX and Computer Modern faces): fonts that a
    kerasseq dependency ships, the fallback on a machine with no system fonts."""
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")


def _font_files(folder):
    return [os.path.join(directory, f) for directory, _, files in os.walk(folder)
            for f in files if f.lower().endswith(FONT_EXTENSIONS)]


def find_fonts(paths=None):
    """Font files named or found below ``paths`` (default: the system font folders, or
    matplotlib's fonts where those hold none), sorted, plus Pillow's embedded font when
    no paths are given or PILLOW_FONT is one of them. Files with the same name in two
    folders (two packages shipping one font) count once, the first path kept: labels.tsv
    names fonts by file name, and a font held out of training must not come back under
    another path."""
    search = list(paths) if paths else [folder for folder in FONT_FOLDERS if os.path.isdir(folder)]
    fonts = []
    for path in search:
        if path == PILLOW_FONT or os.path.isfile(path):
            fonts.append(path)
        elif os.path.isdir(path):
            fonts.extend(_font_files(path))
        else:
            raise DataError(f"font file or folder not found: {path}")
    if not paths and not fonts:
        fonts = _font_files(bundled_fonts_folder())
    by_name = {}
    for font in sorted(set(fonts)):
        by_name.setdefault(os.path.basename(font), font)
    fonts = sorted(by_name.values())
    if not paths:
        fonts.append(PILLOW_FONT)
    return fonts


@functools.lru_cache(maxsize=None)
def font_family(font):
    """The family a font file belongs to: its typographic family name (name table ID 16,
    else ID 1), e.g. "DejaVu Sans" for DejaVuSansCondensed-Bold.ttf; the file name for a
    font without one, "Pillow" for Pillow's embedded font."""
    if font == PILLOW_FONT:
        return "Pillow"
    from fontTools.ttLib import TTFont, TTLibError

    try:
        names = TTFont(font, lazy=True, fontNumber=0)["name"]
        for name_id in (16, 1):
            record = names.getName(name_id, 3, 1) or names.getName(name_id, 1, 0)
            if record and str(record).strip():
                return str(record).strip()
    except (OSError, KeyError, TTLibError, AssertionError, UnicodeDecodeError):
        pass
    return os.path.splitext(os.path.basename(font))[0]


def by_family(fonts):
    """{family: [its fonts, in the order given]}, families in first-seen order."""
    families = {}
    for font in fonts:
        families.setdefault(font_family(font), []).append(font)
    return families


def load_font(font, size):
    """A Pillow FreeType font of ``size`` pixels from a path or PILLOW_FONT."""
    if font == PILLOW_FONT:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(font, size=size)


def covers(font, characters):
    """True if ``font`` draws a glyph of its own, with ink, for every one of ``characters``
    (a missing glyph draws the same box as an unassigned code point; fonts-levien-museum's
    Museum maps its digits to empty glyphs)."""
    try:
        face = load_font(font, 24)
    except OSError:
        return False
    missing = bytes(face.getmask("\ufffe"))
    drawn = (bytes(face.getmask(c)) for c in characters if not c.isspace())
    return all(mask != missing and any(mask) for mask in drawn)


#: Glyph names that say nothing of the glyph (CID-keyed and some converted fonts).
_ANONYMOUS_GLYPH = re.compile(r"(glyph|cid|gid|g)\d+", re.IGNORECASE)
_DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Characters with no enclosed counter in any plain face: when every one of them
#: draws with a hole, each letter sits in a drawn frame (key caps, outlined faces).
_OPEN_CHARACTERS = "ilI1T"
#: Glyph-name suffixes of small capitals, which draw a lower-case letter as a capital.
_SMALL_CAPS_SUFFIXES = ("sc", "smcp", "c2sc", "small")


def _letter_glyph_names(character):
    """Glyph names that a font may give ``character`` and still draw the character itself."""
    names = {character, f"uni{ord(character):04X}", f"u{ord(character):04X}"}
    if character.isdigit():
        names.add(_DIGIT_NAMES[int(character)])
    return names


def _glyph_names_are_letters(font, characters):
    """False when the font's character map sends a letter or digit of ``characters`` to a
    glyph named as something else: Dingbats' 'a' is glyph 'a60', Standard Symbols' 'a'
    is 'alpha', a small-caps face's 'a' is 'a.sc'. Stylistic variants pass ('a.SngStory')."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        cmap = TTFont(font, lazy=True, fontNumber=0)["cmap"].getBestCmap() or {}
    except (OSError, KeyError, TTLibError, AssertionError):
        return False
    for character in characters:
        name = cmap.get(ord(character))
        if not character.isascii() or not character.isalnum() or name is None or _ANONYMOUS_GLYPH.fullmatch(name):
            continue
        base, _, variant = name.partition(".")
        if base not in _letter_glyph_names(character) or variant.lower() in _SMALL_CAPS_SUFFIXES:
            return False
    return True


def _has_hole(mask):
    """True if the ink of a (H, W) uint8 glyph mask encloses a counter."""
    ink = (mask > 127).astype(np.uint8)
    _, hierarchy = cv2.findContours(ink, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())


#: Letters whose capital has another shape in any plain face (unlike c/C, o/O, s/S).
_CASED_LETTERS = "abdeghnqr"


def _glyph_mask(face, character):
    """The (H, W) uint8 ink of ``character`` in the Pillow ``face``, cropped to its box."""
    glyph = face.getmask(character)
    return np.asarray(glyph, dtype=np.uint8).reshape(glyph.size[::-1])


def _square_ink(face, character, size=24):
    """The ink of ``character`` in the Pillow ``face``, stretched to a (size, size) uint8
    square (all zero for a glyph with no ink)."""
    mask = _glyph_mask(face, character)
    if not mask.size:
        return np.zeros((size, size), np.uint8)
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)


def _glyph_shape(face, character, size=24):
    """The ink of ``character`` in the Pillow ``face``, scaled to a (size, size) bool mask."""
    return _square_ink(face, character, size) > 100


#: Letters whose lower case reaches below the baseline in every plain face.
_DESCENDING_LETTERS = "gpqy"
#: Letters whose lower case stands at the x-height in every plain face, and capitals of
#: the same height.
_X_HEIGHT_LETTERS, _CAP_HEIGHT_LETTERS = "aenrxuvwz", "EHNRX"


def _heights(face, characters):
    """Heights of ``characters`` above (positive) and depths below the baseline, in pixels:
    two (len(characters),) float arrays."""
    boxes = np.array([face.getbbox(c, anchor="ls") for c in characters], float)
    return -boxes[:, 1], boxes[:, 3]


def draws_capitals_for_lowercase(font):
    """True when ``font`` draws most lower-case letters as capitals, whatever their size or
    hand: caps-only display faces (Bebas Neue, Beteckna, titling faces), small capitals
    under the letters' own glyph names, and hand-lettered faces that draw each capital
    twice (Humor Sans, fonts-bwht). Their lower-case labels cannot be read from the picture.
    Any of three signs counts:

    - 4 of _CASED_LETTERS's 9 letters overlap their capital by more than 80% of their ink
      (intersection over union, both scaled to a square): the capital's own drawing;
    - the lower case stands as tall as the capitals (median x-height ≥ 0.9 cap height);
    - g, p, q and y do not descend (median depth ≤ 0.1 cap height below the baseline)."""
    face = load_font(font, 64)
    same = 0
    for letter in _CASED_LETTERS:
        lower, upper = _glyph_shape(face, letter), _glyph_shape(face, letter.upper())
        same += (lower & upper).sum() > 0.8 * max(1, (lower | upper).sum())
    cap_height = max(1.0, float(np.median(_heights(face, _CAP_HEIGHT_LETTERS)[0])))
    x_height = float(np.median(_heights(face, _X_HEIGHT_LETTERS)[0]))
    depth = float(np.median(_heights(face, _DESCENDING_LETTERS)[1]))
    return same >= 4 or x_height >= 0.9 * cap_height or depth <= 0.1 * cap_height


#: Latin letters and the Greek letters that fonts typing Greek on a Latin keyboard draw
#: in their place (the Symbol layout), chosen where the two shapes differ.
_GREEK_ON_LATIN_KEYS = {"d": "δ", "f": "φ", "g": "γ", "h": "η", "l": "λ", "n": "ν", "q": "θ", "r": "ρ",
                        "w": "ω", "y": "ψ"}


def _shape_vector(face, character, size=24):
    """The ink of ``character`` scaled to (size, size), blurred, centred and scaled to unit
    length: a (size * size,) float32 vector whose dot products compare shapes."""
    shape = cv2.GaussianBlur(_square_ink(face, character, size).astype(np.float32), (5, 5), 1.5).ravel()
    shape -= shape.mean()
    return shape / (np.linalg.norm(shape) + 1e-6)


@functools.lru_cache(maxsize=1)
def _reference_shapes():
    """{character: (fonts, size * size) shape vectors} of every letter in
    _GREEK_ON_LATIN_KEYS, Latin and Greek, in matplotlib's DejaVu and STIX faces."""
    folder = bundled_fonts_folder()
    fonts = sorted(name for name in os.listdir(folder) if name.startswith(("DejaVu", "STIXGeneral")))
    faces = [load_font(os.path.join(folder, name), 64) for name in fonts]
    characters = [*_GREEK_ON_LATIN_KEYS, *_GREEK_ON_LATIN_KEYS.values()]
    return {c: np.stack([_shape_vector(face, c) for face in faces]) for c in characters}


def draws_greek_for_latin(font):
    """True when ``font`` draws Greek letters on the Latin keys (fonts-linex's alfa-beta
    and ellenike draw "hello" as "ηελλο" under Latin glyph names): 7 or more of the 10
    letters in _GREEK_ON_LATIN_KEYS look more like their Greek letter than like themselves
    (each compared by its best dot product of shape vectors over the reference faces)."""
    face, references = load_font(font, 64), _reference_shapes()
    greek = 0
    for latin, greek_letter in _GREEK_ON_LATIN_KEYS.items():
        shape = _shape_vector(face, latin)
        greek += (references[greek_letter] @ shape).max() > (references[latin] @ shape).max()
    return greek >= 7


def draws_framed_letters(font):
    """True when every one of _OPEN_CHARACTERS draws with a counter: a decorated face
    (Linux Biolinum Keyboard draws each letter inside a key cap)."""
    face = load_font(font, 48)
    masks = [_glyph_mask(face, c) for c in _OPEN_CHARACTERS]
    return all(mask.size and _has_hole(np.pad(mask, 2)) for mask in masks)


@functools.lru_cache(maxsize=None)
def draws_plain_characters(font, characters):
    """True if ``font`` draws every one of ``characters`` as that character: a glyph of
    its own, named as the character in the font's character map, and not inside a frame.
    Symbol-encoded and pictograph fonts (URW's Dingbats and Standard Symbols), small-caps
    and caps-only faces (when ``characters`` has lower-case letters), faces that type Greek
    on Latin keys (when it has the letters to tell) and key-cap faces fail; Pillow's
    embedded font passes."""
    if not covers(font, characters):
        return False
    if font == PILLOW_FONT:
        return True
    cased = any(letter in characters for letter in _CASED_LETTERS)
    greek_keys = sum(letter in characters for letter in _GREEK_ON_LATIN_KEYS) >= 7
    return (_glyph_names_are_letters(font, characters) and not draws_framed_letters(font)
            and not (cased and draws_capitals_for_lowercase(font))
            and not (greek_keys and draws_greek_for_latin(font)))


def usable_fonts(fonts, charset, progress=False):
    """(fonts that draw every character of ``charset`` as itself, fonts that do not);
    see :func:`draws_plain_characters`. Verdicts are kept between runs
    (:mod:`data_prep.font_verdicts`); ``progress`` shows a bar over the fonts."""
    verdicts = FontVerdicts()
    good, bad = [], []
    for font in tqdm(fonts, desc="check fonts", unit="font", disable=not progress):
        usable = verdicts.get(font, charset.characters)
        if usable is None:
            usable = draws_plain_characters(font, charset.characters)
            verdicts.put(font, charset.characters, usable)
        (good if usable else bad).append(font)
    verdicts.save()
    return good, bad


def choose_text(rng, words, charset, options):
    """A word (lower, Capitalised or UPPER) or, with ``digit_share``, a digit string."""
    digits = "".join(c for c in "0123456789" if c in charset.characters)
    for _ in range(100):
        if digits and rng.random() < options.digit_share:
            text = "".join(rng.choice(list(digits), size=int(rng.integers(1, 9))))
        else:
            text = str(words[int(rng.integers(len(words)))])
            case = rng.random()
            text = text.upper() if case < 0.2 else text.capitalize() if case < 0.45 else text.lower()
        if not label_problem(text, charset):
            return text
    raise DataError("cannot draw a word that fits the charset from the lexicon; check --lexicon and --charset")


def render_word(text, font, rng, options):
    """Draw ``text`` with ``font``; returns (H, W) uint8 grayscale, H = options.height
    (or the natural height when 0; or drawn from height..max_height when that is larger;
    or, with the ``lowres`` effect, LOWRES_SHARE of the time 10-20 px)."""
    size = int(rng.integers(20, 48)) if options.on("size") else 32
    face = load_font(font, size)
    stroke = int(rng.integers(0, 3)) if options.on("stroke") and rng.random() < 0.3 else 0
    if options.on("levels"):
        foreground = int(rng.integers(0, 110))
        background = int(rng.integers(max(foreground + 70, 140), 256))
    else:
        foreground, background = 0, 255
    if options.on("invert") and rng.random() < 0.15:
        foreground, background = 255 - foreground, 255 - background
    left, top, right, bottom = face.getbbox(text, stroke_width=stroke)
    margin = size
    canvas = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), background)
    ImageDraw.Draw(canvas).text(
        (margin - left, margin - top), text, font=face, fill=foreground, stroke_width=stroke, stroke_fill=foreground
    )
    gray = np.asarray(canvas)
    gray = _warp(gray, rng, options, background)
    gray = _crop(gray, rng, options, background, size)
    height = options.height
    if height and options.max_height > height:
        height = int(rng.integers(height, options.max_height + 1))
    elif height and options.on("lowres") and rng.random() < LOWRES_SHARE:
        height = int(rng.integers(LOWRES_HEIGHTS[0], LOWRES_HEIGHTS[1] + 1))
    if height:
        scale = height / gray.shape[0]
        width = max(1, round(gray.shape[1] * scale))
        gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if options.on("blur") and rng.random() < 0.3:
        gray = cv2.GaussianBlur(gray, (0, 0), float(rng.uniform(0.3, 1.1)))
    if options.on("noise") and rng.random() < 0.3:
        noise = rng.normal(0.0, rng.uniform(2.0, 14.0), size=gray.shape)
        gray = np.clip(gray + noise, 0, 255).astype(np.uint8)
    if options.on("jpeg") and rng.random() < 0.3:
        ok, encoded = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        gray = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return gray


def _warp(gray, rng, options, background):
    angle = float(rng.uniform(-3, 3)) if options.on("rotate") else 0.0
    shear = float(rng.uniform(-0.3, 0.3)) if options.on("shear") and rng.random() < 0.5 else 0.0
    if not angle and not shear:
        return gray
    rows, columns = gray.shape
    rotation = cv2.getRotationMatrix2D((columns / 2, rows / 2), angle, 1.0)
    matrix = np.vstack([rotation, [0, 0, 1]]) @ np.array([[1, shear, -shear * rows / 2], [0, 1, 0], [0, 0, 1]])
    return cv2.warpAffine(gray, matrix[:2], (columns, rows), flags=cv2.INTER_LINEAR, borderValue=int(background))


def _crop(gray, rng, options, background, size):
    ink = np.abs(gray.astype(np.int16) - background) > 40
    rows = np.nonzero(ink.any(axis=1))[0]
    columns = np.nonzero(ink.any(axis=0))[0]
    if not len(rows):
        return gray
    if options.on("padding"):
        pad = rng.integers(0, max(2, size // 4), size=4)  # tight to loose crops
    else:
        pad = np.full(4, 2)
    top, bottom = max(0, rows[0] - pad[0]), min(gray.shape[0], rows[-1] + 1 + pad[1])
    left, right = max(0, columns[0] - pad[2]), min(gray.shape[1], columns[-1] + 1 + pad[3])
    return gray[top:bottom, left:right]


def encode_image(gray, image_format):
    """(H, W) uint8 -> PNG or JPEG (quality 95) bytes, deterministic."""
    buffer = io.BytesIO()
    if image_format == "png":
        Image.fromarray(gray).save(buffer, format="PNG", optimize=False)
    else:
        Image.fromarray(gray).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@dataclasses.dataclass
class RenderJob:
    """Everything a worker needs to render any image of a run."""

    out: str
    seed: int
    words: list
    charset: Charset
    #: the fonts of each family, one list per family: a word picks a family, then a face
    train_families: list
    val_families: list
    val_share: float
    options: RenderOptions


_JOB = None


def _init_worker(job):
    global _JOB
    _JOB = job


def render_one(job, index):
    """Render image ``index`` of ``job`` to disk; returns its labels.tsv fields
    (relative path, text, font name, split)."""
    rng = np.random.default_rng([job.seed, index])
    split = "val" if job.val_families and rng.random() < job.val_share else "train"
    families = job.val_families if split == "val" else job.train_families
    fonts = families[int(rng.integers(len(families)))]
    font = fonts[int(rng.integers(len(fonts)))]
    text = choose_text(rng, job.words, job.charset, job.options)
    gray = render_word(text, font, rng, job.options)
    relative = os.path.join(f"{index // 1000:04d}", f"{index:07d}.{job.options.image_format}")
    path = os.path.join(job.out, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(encode_image(gray, job.options.image_format))
    return relative, text, os.path.basename(font), split


def _render_chunk(indexes):
    return [render_one(_JOB, index) for index in indexes]


def split_fonts(fonts, holdout_fonts=0, holdout_families=0, seed=0, holdout_list=None):
    """(training fonts, held-out fonts) of the usable ``fonts``: ``holdout_fonts`` fonts,
    or every face of ``holdout_families`` families, drawn by ``seed``; or, given
    ``holdout_list`` (font file names, e.g. a model's NAME.heldout.txt), every face of
    each family with a face named there, so fonts installed since do not move the choice."""
    if holdout_list is not None or holdout_families:
        if holdout_list is not None:
            listed = set(holdout_list)
            held_names = {font_family(f) for f in fonts if os.path.basename(f) in listed}
            if not held_names:
                raise DataError("none of the fonts of the held-out list is among the usable fonts here")
        else:
            families = by_family(fonts)
            if holdout_families >= len(families):
                raise DataError(f"--holdout-families {holdout_families} leaves no training family: "
                                f"only {len(families)} families among the usable fonts")
            names = sorted(families)
            held_names = {names[i] for i in np.random.default_rng(seed).permutation(len(names))[:holdout_families]}
        return ([f for f in fonts if font_family(f) not in held_names], [f for f in fonts if font_family(f) in held_names])
    if holdout_fonts >= len(fonts):
        raise DataError(f"--holdout-fonts {holdout_fonts} leaves no training font: only {len(fonts)} usable fonts")
    held = set(np.random.default_rng(seed).permutation(len(fonts))[:holdout_fonts].tolist())
    return [f for i, f in enumerate(fonts) if i not in held], [f for i, f in enumerate(fonts) if i in held]


def render_dataset(out, count, words=None, fonts=None, seed=0, workers=0, charset=DEFAULT_CHARSET,
                   holdout_fonts=0, val_share=0.1, options=None, progress=True, holdout_families=0, holdout_seed=None,
                   holdout_list=None):
    """Render ``count`` word images into ``out`` and write ``out/labels.tsv``.

    Each image is drawn in a font family picked uniformly, then one of its faces, so a
    family with 30 weights is not drawn 30 times as often as one with a single face.
    Each labels.tsv row: ``relative/path<TAB>text<TAB>font<TAB>split``; split is ``val``
    for images drawn in the fonts kept out of training (chosen by ``holdout_seed``,
    default ``seed``): the ``holdout_fonts`` fonts, or every face of the
    ``holdout_families`` families, or the families of ``holdout_list``'s font file names
    (see :func:`split_fonts`). Returns the rows.
    """
    options = options or RenderOptions()
    unknown = set(options.disabled) - set(EFFECTS)
    if unknown:
        raise DataError(f"unknown effect(s) {sorted(unknown)}; choose from {', '.join(EFFECTS)}")
    if count < 1:
        raise DataError(f"--count must be at least 1, got {count}")
    charset = charset if isinstance(charset, Charset) else Charset.from_spec(charset)
    words = default_lexicon() if words is None else words
    if not words:
        raise DataError("the lexicon is empty")
    fonts, unusable = usable_fonts(find_fonts(fonts), charset, progress)
    if not fonts:
        raise DataError(f"no font draws every character of the charset (tried {len(unusable)})")
    train_fonts, val_fonts = split_fonts(fonts, holdout_fonts, holdout_families, seed if holdout_seed is None else holdout_seed,
                                         holdout_list)
    job = RenderJob(
        out=out, seed=seed, words=words, charset=charset,
        train_families=list(by_family(train_fonts).values()), val_families=list(by_family(val_fonts).values()),
        val_share=val_share, options=options,
    )
    os.makedirs(out, exist_ok=True)
    chunks = [range(start, min(start + 64, count)) for start in range(0, count, 64)]
    workers = workers or os.cpu_count() or 1
    rows = []
    with tqdm(total=count, unit="img", desc="render", disable=not progress) as bar:
        if workers > 1 and len(chunks) > 1:
            context = multiprocessing.get_context("forkserver")
            with context.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
                for chunk_rows in pool.imap(_render_chunk, chunks):
                    rows.extend(chunk_rows)
                    bar.update(len(chunk_rows))
        else:
            for chunk in chunks:
                chunk_rows = [render_one(job, index) for index in chunk]
                rows.extend(chunk_rows)
                bar.update(len(chunk_rows))
    table = "".join("\t".join(row) + "\n" for row in rows)
    atomic.write_bytes(os.path.join(out, "labels.tsv"), table.encode("utf-8"))
    return rows

import hashlib
import os

import numpy as np
import pytest

from data_prep.rendering import (
    PILLOW_FONT,
    RenderOptions,
    bundled_fonts_folder,
    draws_framed_letters,
    draws_plain_characters,
    find_fonts,
    render_dataset,
    usable_fonts,
)
from kerasseq.errors import DataError
from kerasseq.ocr.charset import Charset
from kerasseq.ocr.images import read_gray

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once


def digests(folder, rows):
    return [hashlib.sha1(open(os.path.join(folder, row[0]), "rb").read()).hexdigest() for row in rows]


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path):
    one = render_dataset(str(tmp_path / "one"), 150, seed=5, workers=1, progress=False)
    two = render_dataset(str(tmp_path / "two"), 150, seed=5, workers=2, progress=False)
    assert one == two
    assert digests(tmp_path / "one", one) == digests(tmp_path / "two", two)
    assert (tmp_path / "one" / "labels.tsv").read_bytes() == (tmp_path / "two" / "labels.tsv").read_bytes()
    other = render_dataset(str(tmp_path / "other"), 150, seed=6, workers=1, progress=False)
    assert digests(tmp_path / "other", other) != digests(tmp_path / "one", one)


def test_rendered_words_have_variety_and_fit_the_charset(rendered):
    folder, rows = rendered
    charset = Charset.from_spec("alnum")
    texts = [row[1] for row in rows]
    assert all(text and not charset.unknown_characters(text) for text in texts)
    assert any(t.isdigit() for t in texts) and any(t.isupper() and len(t) > 1 for t in texts)
    assert any(t[0].isupper() and t[1:].islower() for t in texts if len(t) > 1)
    images = [read_gray(os.path.join(folder, row[0])) for row in rows[:60]]
    assert {image.shape[0] for image in images} <= {32} | set(range(10, 21))  # 32 px, or low resolution
    assert len({image.shape[1] for image in images}) > 20  # word widths vary
    backgrounds = [int(np.median(image)) for image in images]
    assert min(backgrounds) < 128 < max(backgrounds)  # some are inverted


def test_holdout_fonts_are_only_used_for_validation(rendered):
    _, rows = rendered
    val_fonts = {row[2] for row in rows if row[3] == "val"}
    train_fonts = {row[2] for row in rows if row[3] == "train"}
    assert len(val_fonts) == 2 and not val_fonts & train_fonts and len(train_fonts) > 2
    assert 0.1 < sum(row[3] == "val" for row in rows) / len(rows) < 0.3


def test_effects_switch_off_and_a_lexicon_is_used(tmp_path):
    options = RenderOptions(disabled=("size", "stroke", "levels", "invert", "rotate", "shear", "blur", "noise", "jpeg",
                                      "padding", "lowres"), digit_share=0.0)
    rows = render_dataset(str(tmp_path), 20, words=["plain"], fonts=[bundled("DejaVuSans.ttf")], workers=1, options=options,
                          progress=False)
    assert {row[1] for row in rows} <= {"plain", "Plain", "PLAIN"}
    images = [read_gray(tmp_path / row[0]) for row in rows]
    # black on pure white: white is the commonest level, and the strokes reach near black
    assert all(np.bincount(image.ravel()).argmax() == 255 and image.min() < 60 for image in images)
    same_case = [image for image, row in zip(images, rows) if row[1] == rows[0][1]]
    assert all(np.array_equal(image, same_case[0]) for image in same_case)  # nothing random left


def test_pillow_font_is_always_available():
    assert find_fonts()[-1] == PILLOW_FONT
    assert find_fonts([PILLOW_FONT]) == [PILLOW_FONT]  # and can be asked for alone


def test_one_font_file_in_two_folders_counts_once(tmp_path):
    # two packages shipping the same file: holding one copy out must not leave the other in training
    source = bundled("DejaVuSans.ttf")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "Same.ttf").write_bytes(open(source, "rb").read())
    (tmp_path / "b" / "Other.ttf").write_bytes(open(source, "rb").read())
    assert find_fonts([str(tmp_path)]) == [str(tmp_path / "a" / "Same.ttf"), str(tmp_path / "b" / "Other.ttf")]
    rows = render_dataset(str(tmp_path / "out"), 30, fonts=[str(tmp_path)], seed=0, workers=1, holdout_fonts=1,
                          val_share=0.5, progress=False)
    val_fonts, train_fonts = ({row[2] for row in rows if row[3] == split} for split in ("val", "train"))
    assert len(val_fonts) == len(train_fonts) == 1 and not val_fonts & train_fonts


def test_bad_render_requests_are_refused(tmp_path):
    with pytest.raises(DataError, match="--count"):
        render_dataset(str(tmp_path), 0, progress=False)
    with pytest.raises(DataError, match="unknown effect"):
        render_dataset(str(tmp_path), 5, options=RenderOptions(disabled=("sparkles",)), progress=False)
    with pytest.raises(DataError, match="leaves no training font"):
        render_dataset(str(tmp_path), 5, fonts=[bundled("DejaVuSans.ttf"), PILLOW_FONT], holdout_fonts=2, progress=False)
    with pytest.raises(DataError, match="font file or folder not found"):
        render_dataset(str(tmp_path), 5, fonts=[str(tmp_path / "nope.ttf")], progress=False)
    with pytest.raises(DataError, match="cannot draw a word"):
        render_dataset(str(tmp_path), 5, words=["!!!"], options=RenderOptions(digit_share=0.0), progress=False)


ALNUM = Charset.from_spec("alnum").characters
SYSTEM_OPENTYPE = "/usr/share/fonts/opentype"


def bundled(name):
    return os.path.join(bundled_fonts_folder(), name)


def test_fonts_that_draw_other_glyphs_for_the_letters_are_not_usable():
    # Computer Modern's symbol, maths-italic and extension fonts cover the letters'
    # code points with other glyphs; Last Resort draws every character as a framed box
    for name in ("cmsy10.ttf", "cmmi10.ttf", "cmex10.ttf", "LastResortHE-Regular.ttf"):
        assert not draws_plain_characters(bundled(name), ALNUM), name
    for name in ("DejaVuSans.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono.ttf", "STIXGeneral.ttf", "cmr10.ttf"):
        assert draws_plain_characters(bundled(name), ALNUM), name
    assert draws_plain_characters(PILLOW_FONT, ALNUM)
    assert draws_framed_letters(bundled("LastResortHE-Regular.ttf"))
    assert not draws_framed_letters(bundled("DejaVuSans.ttf")) and not draws_framed_letters(bundled("cmr10.ttf"))
    good, bad = usable_fonts([bundled("cmsy10.ttf"), bundled("cmr10.ttf")], Charset(ALNUM))
    assert good == [bundled("cmr10.ttf")] and bad == [bundled("cmsy10.ttf")]


@pytest.mark.parametrize("name", ["urw-base35/D050000L.otf", "urw-base35/StandardSymbolsPS.otf",
                                  "linux-libertine/LinBiolinum_K.otf"])
def test_urw_dingbats_standard_symbols_and_key_caps_are_not_usable(name):
    # fonts-urw-base35: Dingbats draws "Hello World 42" as stars, Standard Symbols as
    # Greek; fonts-linuxlibertine's Biolinum Keyboard draws each letter in a key cap
    path = os.path.join(SYSTEM_OPENTYPE, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed (Debian's fonts-urw-base35 and fonts-linuxlibertine)")
    assert not draws_plain_characters(path, ALNUM)
    assert draws_plain_characters(bundled("DejaVuSans.ttf"), ALNUM)


def test_with_no_system_fonts_the_renderer_uses_the_fonts_matplotlib_ships(monkeypatch, tmp_path):
    from data_prep import rendering

    monkeypatch.setattr(rendering, "FONT_FOLDERS", (str(tmp_path / "no-fonts"),))
    fonts = find_fonts()
    assert bundled("DejaVuSans.ttf") in fonts and fonts[-1] == PILLOW_FONT
    good, _ = usable_fonts(fonts, Charset(ALNUM))
    assert len(good) >= 15  # DejaVu, STIX and Computer Modern text faces


def test_the_lowres_effect_draws_a_quarter_of_the_words_10_to_20_pixels_high(tmp_path):
    rows = render_dataset(str(tmp_path), 200, fonts=[bundled("DejaVuSans.ttf")], seed=2, workers=1, progress=False)
    heights = np.array([read_gray(tmp_path / row[0]).shape[0] for row in rows])
    assert set(heights) <= set(range(10, 21)) | {32}
    assert 0.15 < np.mean(heights < 32) < 0.35 and len(set(heights[heights < 32])) > 5
    off = render_dataset(str(tmp_path / "off"), 50, fonts=[bundled("DejaVuSans.ttf")], seed=2, workers=1,
                         options=RenderOptions(disabled=("lowres",)), progress=False)
    assert {read_gray(tmp_path / "off" / row[0]).shape[0] for row in off} == {32}


def test_held_out_families_keep_every_face_of_a_family_out_of_training(tmp_path):
    from data_prep.rendering import font_family, split_fonts

    fonts = [bundled(name) for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf",
                                        "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "cmr10.ttf")]
    assert font_family(bundled("DejaVuSans-Bold.ttf")) == font_family(bundled("DejaVuSans.ttf")) == "DejaVu Sans"
    for seed in range(4):
        train, held = split_fonts(fonts, holdout_families=2, seed=seed)
        assert sorted(train + held) == sorted(fonts)
        assert len({font_family(f) for f in held}) == 2 and not {font_family(f) for f in held} & {font_family(f) for f in train}
    rows = render_dataset(str(tmp_path), 120, fonts=fonts, seed=1, workers=1, holdout_families=1, val_share=0.3,
                          progress=False)
    val_families = {font_family(bundled(row[2])) for row in rows if row[3] == "val"}
    train_faces = [row[2] for row in rows if row[3] == "train"]
    assert len(val_families) == 1 and not val_families & {font_family(bundled(f)) for f in train_faces}
    # a family is picked uniformly, then a face: the two-face families are not drawn twice as often
    counts = {family: sum(font_family(bundled(f)) == family for f in train_faces) for family in
              {font_family(bundled(f)) for f in train_faces}}
    assert max(counts.values()) < 2 * min(counts.values())
    with pytest.raises(DataError, match="leaves no training family"):
        split_fonts(fonts, holdout_families=4)


def test_a_held_out_list_keeps_its_families_out_whatever_fonts_come_later(tmp_path):
    from data_prep.rendering import split_fonts

    fonts = [bundled(name) for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "cmr10.ttf")]
    later = fonts + [bundled(name) for name in ("DejaVuSansMono.ttf", "STIXGeneral.ttf", "cmss10.ttf")]
    # a model's record names one face; every face of its family is held out, in either font set
    for installed in (fonts, later):
        train, held = split_fonts(installed, holdout_list=["DejaVuSans-Bold.ttf", "gone.ttf"])
        assert sorted(held) == [bundled("DejaVuSans-Bold.ttf"), bundled("DejaVuSans.ttf")]
        assert sorted(train + held) == sorted(installed)
    with pytest.raises(DataError, match="none of the fonts of the held-out list"):
        split_fonts(fonts, holdout_list=["gone.ttf"])
    # from the command line, as a model's NAME.heldout.txt
    from data_prep.render_words import main

    listed = tmp_path / "model.heldout.txt"
    listed.write_text("cmr10.ttf\n")
    assert main(["--out", str(tmp_path / "out"), "--count", "60", "--fonts", *later, "--holdout-list", str(listed),
                 "--val-share", "0.5", "--workers", "1", "--quiet"]) == 0
    rows = [line.split("\t") for line in (tmp_path / "out" / "labels.tsv").read_text().splitlines()]
    assert {row[2] for row in rows if row[3] == "val"} == {"cmr10.ttf"}
    assert "cmr10.ttf" not in {row[2] for row in rows if row[3] == "train"}


def edited_font(tmp_path, name, edit):
    """DejaVu Sans saved as ``name`` after ``edit(glyf table, hmtx table, cmap)``."""
    from fontTools.ttLib import TTFont

    font = TTFont(bundled("DejaVuSans.ttf"))
    edit(font["glyf"], font["hmtx"], font.getBestCmap())
    path = str(tmp_path / name)
    font.save(path)
    return path


def test_faces_that_draw_lower_case_as_capitals_are_not_usable(tmp_path):
    import copy

    from data_prep.rendering import draws_capitals_for_lowercase

    def capitals_for_lower_case(glyf, hmtx, cmap):
        for letter in "abcdefghijklmnopqrstuvwxyz":
            glyf[cmap[ord(letter)]] = copy.deepcopy(glyf[cmap[ord(letter.upper())]])
            hmtx[cmap[ord(letter)]] = hmtx[cmap[ord(letter.upper())]]

    caps = edited_font(tmp_path, "CapsOnly.ttf", capitals_for_lower_case)
    assert draws_capitals_for_lowercase(caps) and not draws_plain_characters(caps, ALNUM)
    assert draws_plain_characters(caps, Charset.from_spec("digits").characters)  # no lower case to misdraw
    for name in ("DejaVuSans.ttf", "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf", "cmr10.ttf", "cmtt10.ttf"):
        assert not draws_capitals_for_lowercase(bundled(name)), name


def serif_capitals_as_lower_case(scale, keep=""):
    """An edit for :func:`edited_font`: each lower-case letter but ``keep`` becomes DejaVu
    Serif's capital, scaled by ``scale`` about the origin (another hand's capitals)."""
    import copy

    from fontTools.ttLib import TTFont
    from fontTools.ttLib.tables import ttProgram

    serif = TTFont(bundled("DejaVuSerif.ttf"))
    serif_cmap, serif_glyf, serif_hmtx = serif.getBestCmap(), serif["glyf"], serif["hmtx"]

    def edit(glyf, hmtx, cmap):
        for letter in sorted(set("abcdefghijklmnopqrstuvwxyz") - set(keep)):
            capital = serif_cmap[ord(letter.upper())]
            glyph = copy.deepcopy(serif_glyf[capital])
            glyph.coordinates.scale((scale, scale))
            glyph.program = ttProgram.Program()  # Serif's hinting calls functions Sans lacks
            glyph.program.fromBytecode(b"")
            glyph.recalcBounds(serif_glyf)
            glyf[cmap[ord(letter)]] = glyph
            width, _ = serif_hmtx[capital]
            hmtx[cmap[ord(letter)]] = (round(width * scale), glyph.xMin)

    return edit


def test_hand_lettered_capitals_and_small_capitals_drawn_for_lower_case_are_not_usable(tmp_path):
    from data_prep.rendering import draws_capitals_for_lowercase

    # Humor Sans and fonts-bwht draw each capital a second time, in its own hand, for the
    # lower case: as tall as the capitals; g, p, q, y kept here so that only height tells
    full = edited_font(tmp_path, "CapitalsTwice.ttf", serif_capitals_as_lower_case(1.0, keep="gpqy"))
    # small capitals of another drawing: shorter, but nothing descends
    small = edited_font(tmp_path, "SmallCapitals.ttf", serif_capitals_as_lower_case(0.75))
    for path in (full, small):
        assert draws_capitals_for_lowercase(path) and not draws_plain_characters(path, ALNUM), path
    for name in ("DejaVuSans.ttf", "DejaVuSansMono-Bold.ttf", "STIXGeneralItalic.ttf", "cmss10.ttf"):
        assert not draws_capitals_for_lowercase(bundled(name)), name


def test_faces_that_type_greek_on_latin_keys_are_not_usable(tmp_path):
    import copy

    from data_prep.rendering import draws_greek_for_latin

    symbol_layout = dict(zip("abcdefghiklmnopqrstuwxyz", "αβχδεφγηικλμνοπθρστυωξψζ"))

    def greek_on_latin_keys(glyf, hmtx, cmap):
        for latin, greek in symbol_layout.items():
            if glyf[cmap[ord(greek)]].isComposite():  # omicron is built from o
                continue
            glyf[cmap[ord(latin)]] = copy.deepcopy(glyf[cmap[ord(greek)]])
            hmtx[cmap[ord(latin)]] = hmtx[cmap[ord(greek)]]

    greek = edited_font(tmp_path, "GreekKeys.ttf", greek_on_latin_keys)
    assert draws_greek_for_latin(greek) and not draws_plain_characters(greek, ALNUM)
    assert draws_plain_characters(greek, Charset.from_spec("digits").characters)  # no letters to misdraw
    for name in ("DejaVuSans.ttf", "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf", "cmr10.ttf", "cmtt10.ttf"):
        assert not draws_greek_for_latin(bundled(name)), name


@pytest.mark.parametrize("name", ["linex/alfa-beta.ttf", "linex/ellenike.ttf", "humor-sans/Humor-Sans.ttf"])
def test_linex_greek_and_humor_sans_are_not_usable(name):
    # fonts-linex's alfa-beta and ellenike type "hello" as "ηελλο"; fonts-humor-sans draws
    # "hello" as "HELLO": labels the picture cannot show
    path = os.path.join("/usr/share/fonts/truetype", name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed (Debian's fonts-linex and fonts-humor-sans)")
    assert not draws_plain_characters(path, ALNUM)


@pytest.mark.parametrize("name", ["bebas-neue/BebasNeue-Regular.otf", "bebas-neue/BebasNeue-Thin.otf"])
def test_bebas_neue_draws_capitals_for_lower_case(name):
    # fonts-bebas-neue: "hello" draws as "HELLO", a label the picture cannot show
    path = os.path.join(SYSTEM_OPENTYPE, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed (Debian's fonts-bebas-neue)")
    assert not draws_plain_characters(path, ALNUM)


def test_a_face_with_empty_glyphs_for_some_characters_is_not_usable(tmp_path):
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    from data_prep.rendering import covers

    def empty_digits(glyf, hmtx, cmap):
        for digit in "0123456789":
            glyf[cmap[ord(digit)]] = Glyph()  # no contours: the digit draws nothing

    blank = edited_font(tmp_path, "BlankDigits.ttf", empty_digits)
    assert covers(blank, "abcXYZ") and not covers(blank, "abc012")
    assert not draws_plain_characters(blank, ALNUM)

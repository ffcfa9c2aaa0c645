"""The readers benchmark: the rendered splits, the Tesseract wrapper (with a stand-in
executable where Tesseract is not installed, and the real one where it is), the rows per
split and per font family, and the tables the script prints."""

import json
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_prep.benchmark_splits import machine_held_out_fonts, render_splits
from kerasseq.benchmarks.tesseract import find_tesseract, read_with_tesseract
from kerasseq.data.sources import Item, find_source
from kerasseq.errors import DataError
from tests.helpers import load_script, render_clean_words


def fake_tesseract(folder, stdout, version="tesseract 5.3.0"):
    """An executable named tesseract that prints ``version`` for --version, else ``stdout``."""
    path = folder / "tesseract"
    path.write_text(f"#!/bin/sh\nif [ \"$1\" = --version ]; then echo '{version}'; exit 0; fi\nprintf '{stdout}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    out = tmp_path_factory.mktemp("splits")
    return render_splits(str(out), 12, machine_held_out_fonts(2, seed=5), seed=5, workers=1)


def test_the_three_splits_draw_the_same_words_in_held_out_fonts_only(splits):
    from data_prep.benchmark_splits import thin_or_condensed
    from data_prep.rendering import find_fonts, render_dataset

    folders, fonts = splits
    assert sorted(folders) == ["clean", "lowres", "noisy"] + (["thin"] if thin_or_condensed(fonts) else [])
    texts = {split: [item.text for item in find_source(folder).items] for split, folder in folders.items()}
    assert len(texts["clean"]) == 12 and texts["clean"] == texts["noisy"] == texts["lowres"]
    # the fonts are the ones render_words.py --holdout-fonts 2 --seed 5 keeps out of training
    training = render_dataset(str(os.path.join(os.path.dirname(folders["clean"]), "train")), 40, seed=5,
                              workers=1, holdout_fonts=2, val_share=0.0, progress=False)
    assert not {row[2] for row in training} & set(fonts)
    assert 1 <= len(fonts) <= 2 and len(find_fonts()) > 2


def test_clean_is_black_on_white_and_lowres_is_12_to_18_pixels_high(splits):
    folders, _ = splits
    for item in find_source(folders["clean"]).items:
        gray = cv2.imread(item.path, cv2.IMREAD_GRAYSCALE)
        assert gray.shape[0] == 32 and gray.max() == 255 and gray.min() < 60
        assert np.bincount(gray.ravel()).argmax() == 255  # the background is pure white
    heights = [cv2.imread(item.path, cv2.IMREAD_GRAYSCALE).shape[0] for item in find_source(folders["lowres"]).items]
    assert min(heights) >= 12 and max(heights) <= 18 and len(set(heights)) > 1
    clean, noisy = (sorted(find_source(folders[s]).items, key=lambda i: i.path) for s in ("clean", "noisy"))
    assert any(not np.array_equal(cv2.imread(a.path), cv2.imread(b.path)) for a, b in zip(clean, noisy))


def test_tesseract_output_is_split_into_one_word_per_image(tmp_path):
    executable = fake_tesseract(tmp_path, "cat\\n\\fd o g\\n\\f\\n\\f42\\n")
    texts, seconds = read_with_tesseract(["a.png", "b.png", "c.png", "d.png"], "abc", executable=executable)
    assert texts == ["cat", "dog", "", "42"] and seconds > 0
    with pytest.raises(DataError, match="3 readings for 4 images"):
        read_with_tesseract(["a.png", "b.png", "c.png", "d.png"], "abc", fake_tesseract(tmp_path, "a\\fb\\fc\\n"))
    with pytest.raises(DataError, match="apt-get install tesseract-ocr"):
        read_with_tesseract(["a.png"], "abc", executable=str(tmp_path / "missing"))


def test_only_tesseract_5_or_later_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_tesseract() is None
    fake_tesseract(tmp_path, "", version="tesseract 4.1.1")
    assert find_tesseract() is None
    fake_tesseract(tmp_path, "", version="tesseract 5.3.0\\n leptonica-1.82.0")
    assert find_tesseract() == str(tmp_path / "tesseract")


def test_real_tesseract_reads_clean_words_within_its_whitelist(tmp_path):
    executable = find_tesseract()
    if executable is None:
        pytest.skip("Tesseract 5 is not installed (apt-get install tesseract-ocr)")
    items = [Item(path, text) for path, text, _ in render_clean_words(tmp_path, 24)]
    texts, _ = read_with_tesseract([i.path for i in items], "0123456789", executable)
    assert all(set(text) <= set("0123456789") for text in texts)
    texts, _ = read_with_tesseract([i.path for i in items], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", executable)
    assert np.mean([t == i.text for t, i in zip(texts, items)]) >= 0.75


def test_the_tables_have_every_reader_on_every_split_and_family(tiny_model, tiny_words, tmp_path):
    from kerasseq.benchmarks.readers import compare, format_table, labelled_images
    from kerasseq.ocr.predictor import Predictor, load_recognizer

    images = labelled_images(str(tiny_words))
    answer = "".join("cat\n\f" for _ in images)[: -len("\f")]
    executable = fake_tesseract(tmp_path, answer)
    truth = {path: text for path, text, _ in images}
    peers = {"tesseract": lambda paths, characters: read_with_tesseract(paths, characters, executable),
             "oracle": lambda paths, characters: ([truth[p] for p in paths], 0.5)}
    family_of = {"DejaVuSans.ttf": "DejaVu Sans", "DejaVuSerif.ttf": "DejaVu Serif"}
    rows, family_rows = compare(Predictor(load_recognizer(tiny_model[0])), {"one": str(tiny_words), "two": str(tiny_words)},
                                peers, family_of)
    assert [(r["split"], r["reader"]) for r in rows] == [(s, r) for s in ("one", "two") for r in ("kerasseq", "tesseract", "oracle")]
    ours, theirs, oracle = rows[:3]
    assert ours["images"] == theirs["images"] == len(images) == 32
    assert ours["word_accuracy"] == pytest.approx(tiny_model[2])  # the tiny model reads its words
    assert theirs["word_accuracy"] == pytest.approx(np.mean([text == "cat" for _, text, _ in images]))
    assert oracle["word_accuracy"] == 1 and oracle["images_s"] == pytest.approx(32 / 0.5)
    assert theirs["word_accuracy"] < 1 and ours["images_s"] > 0 and theirs["images_s"] > 0
    # per family: both splits' images in each font's family, for every reader
    per_font = {font: sum(f == font for _, _, f in images) for font in family_of}
    assert [(r["split"], r["reader"], r["images"]) for r in family_rows] == [
        (family_of[font], reader, 2 * per_font[font]) for reader in ("kerasseq", "tesseract", "oracle") for font in sorted(family_of)]
    cats = {font: np.mean([text == "cat" for _, text, f in images if f == font]) for font in family_of}
    assert [r["word_accuracy"] for r in family_rows if r["reader"] == "tesseract"] == pytest.approx([cats[f] for f in sorted(family_of)])
    table = format_table(rows).splitlines()
    assert len(table) == 8 and table[2].startswith("| one | kerasseq | 32 |")
    assert format_table(family_rows, group="font family").splitlines()[0].startswith("| font family | reader |")


def test_the_thin_split_is_drawn_in_the_thin_and_condensed_faces_only(tmp_path):
    from data_prep.benchmark_splits import thin_or_condensed
    from data_prep.rendering import bundled_fonts_folder
    from kerasseq.benchmarks.readers import labelled_images

    fonts = []
    for name in ("Plain-Regular.ttf", "Plain-ThinItalic.ttf", "PlainCondensed-Bold.ttf", "Highlight.ttf"):
        (tmp_path / name).write_bytes((Path(bundled_fonts_folder()) / "DejaVuSans.ttf").read_bytes())
        fonts.append(str(tmp_path / name))
    assert [os.path.basename(f) for f in thin_or_condensed(fonts)] == ["Plain-ThinItalic.ttf", "PlainCondensed-Bold.ttf"]
    folders, _ = render_splits(str(tmp_path / "splits"), 16, fonts, seed=2, workers=1)
    assert {font for _, _, font in labelled_images(folders["thin"])} == {"Plain-ThinItalic.ttf", "PlainCondensed-Bold.ttf"}
    assert len({font for _, _, font in labelled_images(folders["clean"])}) > 2
    folders, _ = render_splits(str(tmp_path / "none"), 4, fonts[:1], seed=2, workers=1)
    assert "thin" not in folders


def test_the_timing_starts_after_one_warm_up_batch_of_the_timed_shape(tiny_model, tiny_words):
    from kerasseq.benchmarks.readers import compare
    from kerasseq.ocr.predictor import Predictor, load_recognizer

    class CountingPredictor(Predictor):
        def read_files(self, paths, progress=False, keep_canvases=0):
            calls.append(len(paths))
            return super().read_files(paths, progress, keep_canvases)

    calls = []
    compare(CountingPredictor(load_recognizer(tiny_model[0]), batch_size=8), {"one": str(tiny_words), "two": str(tiny_words)})
    assert calls == [8, 32, 32]  # a one-image warm-up would leave the batch-8 predict step to the timed read


def test_a_partial_batch_is_padded_to_a_shape_already_compiled(tiny_model, monkeypatch):
    from kerasseq.ocr import inference
    from kerasseq.ocr.inference import predict_probabilities
    from kerasseq.ocr.predictor import load_recognizer

    model = load_recognizer(tiny_model[0])
    shapes, batch_forward = [], inference.batch_forward

    def recording(model):
        return lambda batch: shapes.append(len(batch)) or batch_forward(model)(batch)

    monkeypatch.setattr(inference, "batch_forward", recording)
    for count in (1, 3, 44, 64, 130):
        assert predict_probabilities(model, np.zeros((count, 32, 128, 1), np.uint8), 64).shape[0] == count
    # a folder's last 44 images reuse the batch-64 step instead of compiling a batch-44 one
    assert shapes == [1, 4, 64, 64, 64, 64, 64]


def test_script_prints_the_model_rows_and_says_why_tesseract_is_skipped(tiny_model, tmp_path, monkeypatch, capsys):
    from kerasseq.cli import run

    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract here
    with pytest.raises(SystemExit) as exit_info:
        run(load_script("bench_readers").main, ["--model", tiny_model[0], "--count", "4", "--holdout-fonts", "1",
                                                 "--readers", "tesseract", "--json", str(tmp_path / "rows.json")])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "| clean | kerasseq | 4 |" in out and "| lowres | kerasseq | 4 |" in out and "tesseract |" not in out
    assert "tesseract: not found" in out and "apt-get install tesseract-ocr" in out
    rows = json.loads((tmp_path / "rows.json").read_text())["splits"]
    assert [(r["split"], r["reader"], r["images"]) for r in rows][:3] == [(s, "kerasseq", 4) for s in ("clean", "noisy", "lowres")]
    assert "| font family | reader |" in out


def test_the_shipped_model_records_disjoint_training_and_held_out_fonts():
    from kerasseq.data.font_record import read_font_record
    from kerasseq.ocr.predictor import pretrained_model_path

    training, held_out = read_font_record(pretrained_model_path())
    assert len(held_out) == 146 and len(training) > 1300 and not set(training) & set(held_out)
    assert "pillow-default" in training
    # whole families held out: every Lato and Inter face, none trained on
    for family in ("Lato-", "Inter-"):
        assert sum(name.startswith(family) for name in held_out) >= 10
        assert not any(name.startswith(family) for name in training)


def test_held_out_fonts_come_from_the_record_with_the_missing_and_the_seen_named(tmp_path):
    from data_prep.benchmark_splits import recorded_held_out_fonts
    from data_prep.rendering import bundled_fonts_folder

    for name in ("Held.ttf", "AlsoTrained.ttf", "Trained.ttf"):
        (tmp_path / name).write_bytes((Path(bundled_fonts_folder()) / "DejaVuSans.ttf").read_bytes())
    usable, missing, seen = recorded_held_out_fonts(["Trained.ttf", "AlsoTrained.ttf"],
                                                    ["Held.ttf", "AlsoTrained.ttf", "Elsewhere.otf"], [str(tmp_path)])
    assert usable == [str(tmp_path / "Held.ttf")] and missing == ["Elsewhere.otf"] and seen == ["AlsoTrained.ttf"]


def test_the_benchmark_uses_the_model_record_and_warns_of_fonts_missing_here(tiny_model, tmp_path, monkeypatch, capsys):
    import shutil

    from data_prep.rendering import bundled_fonts_folder
    from kerasseq.cli import run

    model = tmp_path / "reader.keras"
    shutil.copy(tiny_model[0], model)
    (tmp_path / "reader.fonts.txt").write_text("DejaVuSans.ttf\n")
    (tmp_path / "reader.heldout.txt").write_text("DejaVuSerif.ttf\nNotInstalled.otf\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract
    with pytest.raises(SystemExit) as exit_info:
        run(load_script("bench_readers").main, ["--model", str(model), "--count", "4", "--fonts", bundled_fonts_folder(),
                                                 "--readers", "tesseract"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0
    assert "1 of the model's 2 held-out fonts are not installed here: NotInstalled.otf" in err
    assert "held-out fonts: DejaVuSerif.ttf" in out
    (tmp_path / "reader.heldout.txt").write_text("NotInstalled.otf\n")
    with pytest.raises(SystemExit) as exit_info:
        run(load_script("bench_readers").main, ["--model", str(model), "--count", "4", "--fonts", bundled_fonts_folder(),
                                                 "--readers", "tesseract"])
    assert exit_info.value.code == 2 and "error: none of the fonts" in capsys.readouterr().err

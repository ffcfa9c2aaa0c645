import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import data_prep.building as building
from data_prep.building import OutputLock, PreprocessConfig, build_dataset
from kerasseq.data.dataset import open_split, read_manifests
from kerasseq.errors import DataError
from tests.helpers import ROOT, load_script

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once


def checksums(folder):
    """sha1 of every file of a dataset folder except locks, by relative path."""
    sums = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            sums[os.path.relpath(path, folder)] = hashlib.sha1(open(path, "rb").read()).hexdigest()
    return sums


def write_png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def messy_folder(tmp_path):
    """A labels.tsv source with good images and every kind of bad input."""
    root = tmp_path / "messy"
    good = np.full((20, 60), 255, np.uint8)
    good[5:15, 5:55] = 0
    rows = []
    for index in range(25):
        write_png(root / f"good{index}.png", good)
        rows.append((f"good{index}.png", f"w{index}"))
    write_png(root / "big.png", np.zeros((40, 300), np.uint8))
    rows.append(("big.png", "big"))
    (root / "empty.png").write_bytes(b"")
    rows.append(("empty.png", "empty"))
    (root / "text.png").write_text("not an image")
    rows.append(("text.png", "text"))
    rows.append(("missing.png", "missing"))
    rows.append(("good0.png", "caf\u00e9"))
    rows.append(("good0.png", "a" * 40))
    rows.append(("good0.png", "aaaaaaaaaaaaaaaa"))  # 16 letters need 31 steps: still fits
    rows.append(("good0.png", "aaaaaaaaaaaaaaaaa"))  # 17 need 33 steps
    Image.fromarray(np.zeros((10, 10, 4), np.uint8), "RGBA").save(root / "rgba.png")
    rows.append(("rgba.png", "rgba"))
    (root / "labels.tsv").write_text("".join(f"{p}\t{t}\n" for p, t in rows), encoding="utf-8")
    return root


def test_rendered_set_gives_font_disjoint_splits_with_known_counts(rendered, dataset):
    _, rows = rendered
    manifest = read_manifests(str(dataset))[0]
    assert manifest["split"]["method"] == "column"
    assert manifest["counts"] == {"train": sum(r[3] == "train" for r in rows), "val": sum(r[3] == "val" for r in rows)}
    assert manifest["skipped_count"] == 0 and manifest["mode"] == "resize"
    val = open_split(str(dataset), "val")
    assert sorted(val.texts) == sorted(r[1] for r in rows if r[3] == "val")
    train = open_split(str(dataset), "train")
    assert len(train.shards) == -(-len(train) // 64)  # shards of 64
    assert train.shards[0].images.shape == (64, 32, 128, 1) and train.shards[0].images.dtype == np.uint8
    assert isinstance(train.shards[0].images, np.memmap)


def test_every_tenth_item_goes_to_validation(messy_folder, tmp_path):
    manifest = build_dataset(str(messy_folder), str(tmp_path / "out"), PreprocessConfig(workers=1), progress=False)
    assert manifest["split"]["method"] == "every"
    val_texts = open_split(str(tmp_path / "out"), "val").texts
    assert val_texts == ["w0", "w10", "w20"]


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_kept(messy_folder, tmp_path):
    manifest = build_dataset(str(messy_folder), str(tmp_path / "out"), PreprocessConfig(workers=2, mode="blog"),
                             progress=False)
    reasons = {os.path.basename(s["path"]) + ":" + s["reason"][:25] for s in manifest["skipped"]}
    assert manifest["skipped_count"] == 7
    assert any(r.startswith("big.png:larger than 32x128") for r in reasons)
    assert any(r.startswith("empty.png:empty file") for r in reasons)
    assert any(r.startswith("text.png:not a readable image") for r in reasons)
    assert any(r.startswith("missing.png:no such file") for r in reasons)
    assert sum("outside the charset" in s["reason"] for s in manifest["skipped"]) == 1
    assert sum("needs 33 CTC steps" in s["reason"] or "needs 79 CTC steps" in s["reason"]
               for s in manifest["skipped"]) == 2
    texts = open_split(str(tmp_path / "out"), "train").texts + open_split(str(tmp_path / "out"), "val").texts
    assert "aaaaaaaaaaaaaaaa" in texts and "rgba" in texts and len(texts) == 27
    images, _ = open_split(str(tmp_path / "out"), "train").arrays()
    rgba_row = open_split(str(tmp_path / "out"), "train").texts.index("rgba")
    assert (images[rgba_row] == 255).all()  # transparent black is white paper


def test_blog_and_resize_modes_give_known_arrays(tmp_path):
    gray = np.full((16, 40), 250, np.uint8)
    gray[4:12, 4:36] = 3
    write_png(tmp_path / "src" / "word.png", gray)
    for mode in ("blog", "resize"):
        build_dataset(str(tmp_path / "src"), str(tmp_path / mode), PreprocessConfig(mode=mode, val_every=0, workers=1),
                      progress=False)
    blog, _ = open_split(str(tmp_path / "blog"), "train").arrays()
    np.testing.assert_array_equal(blog[0, :16, :40, 0], gray)
    assert (blog[0, 16:] == 255).all() and (blog[0, :, 40:] == 255).all()
    resized, _ = open_split(str(tmp_path / "resize"), "train").arrays()
    assert (resized[0, 9:23, 9:71, 0] == 3).all()  # 2x bilinear: the edges blend
    assert (resized[0, :, 80:, 0] == 250).all()  # padded with the background level


def test_limit_and_shard_parts_partition_the_source(rendered, tmp_path):
    source = str(rendered[0])
    whole = build_dataset(source, str(tmp_path / "whole"), PreprocessConfig(workers=1, limit=200), progress=False)
    for index in range(3):
        build_dataset(source, str(tmp_path / "parts"), PreprocessConfig(workers=1, limit=200, shard_index=index,
                                                                         num_shards=3), progress=False)
    assert len(read_manifests(str(tmp_path / "parts"))) == 3
    for split in ("train", "val"):
        parts = open_split(str(tmp_path / "parts"), split)
        assert sorted(parts.texts) == sorted(open_split(str(tmp_path / "whole"), split).texts)
        assert len(parts) == whole["counts"][split]
    both = open_split([str(tmp_path / "whole"), str(tmp_path / "parts")], "train")
    assert len(both) == 2 * whole["counts"]["train"]


def test_a_crashed_run_finishes_with_identical_bytes(rendered, tmp_path, monkeypatch):
    config = dict(workers=1, shard_size=32)
    build_dataset(str(rendered[0]), str(tmp_path / "clean"), PreprocessConfig(**config), progress=False)
    written = []
    original = building.write_shard

    def crash_on_third(*args):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(args[1])
        original(*args)

    monkeypatch.setattr(building, "write_shard", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(str(rendered[0]), str(tmp_path / "crashed"), PreprocessConfig(**config), progress=False)
    assert not (tmp_path / "crashed" / "manifest.json").exists()
    monkeypatch.setattr(building, "write_shard", original)
    build_dataset(str(rendered[0]), str(tmp_path / "crashed"), PreprocessConfig(**config), progress=False)
    assert checksums(tmp_path / "crashed") == checksums(tmp_path / "clean")


def test_half_written_shard_is_redone(dataset, tmp_path, rendered):
    copy = tmp_path / "copy"
    build_dataset(str(rendered[0]), str(copy), PreprocessConfig(workers=1, shard_size=64), progress=False)
    reference = checksums(copy)
    images = copy / "train" / "00001.images.npy"
    images.write_bytes(images.read_bytes()[:1000])  # torn write
    (copy / "manifest.json").unlink()
    with pytest.raises(ValueError):
        np.load(images)
    build_dataset(str(rendered[0]), str(copy), PreprocessConfig(workers=1, shard_size=64), progress=False)
    assert checksums(copy) == reference


def test_sigkill_mid_run_then_rerun_matches_an_uninterrupted_run(rendered, tmp_path):
    script = os.path.join(ROOT, "data_prep", "preprocess.py")
    arguments = [str(rendered[0]), "--shard-size", "8", "--workers", "1", "--quiet"]
    subprocess.run([sys.executable, script, *arguments, "--out", str(tmp_path / "clean")], check=True, timeout=300)
    killed = subprocess.Popen([sys.executable, script, *arguments, "--out", str(tmp_path / "killed")])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if len(list((tmp_path / "killed").glob("*/*.json"))) >= 3:
            killed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (tmp_path / "killed" / "manifest.json").exists()
    finished = subprocess.run([sys.executable, script, *arguments, "--out", str(tmp_path / "killed")], timeout=300,
                              capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert checksums(tmp_path / "killed") == checksums(tmp_path / "clean")


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, rendered):
    (tmp_path / "out").mkdir()
    with OutputLock(str(tmp_path / "out"), "manifest.json"):
        with pytest.raises(DataError, match="another preprocessing run is writing"):
            build_dataset(str(rendered[0]), str(tmp_path / "out"), PreprocessConfig(workers=1), progress=False)
    # a lock left by a dead process is taken over
    (tmp_path / "out" / ".lock-manifest.json").write_text(f"{os.uname().nodename} 999999999\n")
    build_dataset(str(rendered[0]), str(tmp_path / "out"), PreprocessConfig(workers=1, limit=20), progress=False)
    assert not (tmp_path / "out" / ".lock-manifest.json").exists()


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere", "--out", "{tmp}/o"], "error: source not found"),
    (["{tmp}/empty", "--out", "{tmp}/o"], "error: no images found"),
    (["{tmp}/empty", "--out", "{tmp}/o", "--shard-index", "3", "--num-shards", "2"], "error: --shard-index 3"),
])
def test_preprocess_cli_refuses_bad_input_with_one_line(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    main = load_script("preprocess").main
    from kerasseq.cli import run

    with pytest.raises(SystemExit) as exit_info:
        run(main, [a.format(tmp=tmp_path) for a in args])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(message) and "\n" not in error


def test_preprocess_cli_writes_the_manifest(rendered, tmp_path, capsys):
    from kerasseq.cli import run

    with pytest.raises(SystemExit) as exit_info:
        run(load_script("preprocess").main, [str(rendered[0]), "--out", str(tmp_path / "o"), "--quiet", "--limit", "50"])
    assert exit_info.value.code == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["limit"] == 50 and sum(manifest["counts"].values()) == 50
    assert "wrote" in capsys.readouterr().out

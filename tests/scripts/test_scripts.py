import json
import os
import re

import keras
import numpy as np
import pytest
from PIL import Image

from tests.helpers import TINY_WORDS, call, load_script, run_script

SCRIPTS = ["render_words", "preprocess", "train_crnn", "predict", "evaluate", "export_model", "demo", "bench_data",
           "train_task", "bench_tasks", "nalu_arithmetic", "bench_crnn", "bench_readers", "plot_learning_curves", "average_weights"]


def test_scripts_use_the_installed_package_without_path_edits():
    from tests.helpers import ROOT

    for name in SCRIPTS:
        folder = "data_prep" if name in ("render_words", "preprocess") else "scripts"
        with open(os.path.join(ROOT, folder, f"{name}.py")) as handle:
            assert "sys.path" not in handle.read(), name


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(name).main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--backend" in out


def test_predict_reads_the_tiny_words_and_reports_each_bad_file(tiny_model, tiny_words, tmp_path, capsys):
    path, _, _ = tiny_model
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "zero.png").write_bytes(b"")
    (junk / "notes.txt").write_text("hello")
    Image.new("L", (1, 1), 255).save(junk / "dot.png")
    Image.new("CMYK", (40, 20), (0, 0, 0, 0)).save(junk / "cmyk.jpg")
    Image.fromarray(np.full((20, 40), 60000, np.uint16)).save(junk / "deep.png")
    Image.new("L", (6000, 300), 255).save(junk / "huge.png")
    frames = [Image.new("P", (30, 10), i) for i in range(3)]
    frames[0].save(junk / "anim.gif", save_all=True, append_images=frames[1:])
    labels = {line.split("\t")[0]: line.split("\t")[1] for line in (tiny_words / "labels.tsv").read_text().splitlines()}
    images = sorted(labels)[:6]
    code, out, err = call("predict", ["--model", path, *[tiny_words / i for i in images], junk,
                                      "--sheet", tmp_path / "sheet.png"], capsys)
    assert code == 1  # some files failed
    rows = [line.split("\t") for line in out.strip().splitlines()]
    by_path = {row[0]: row for row in rows}
    for image in images:
        path_text_confidence = by_path[str(tiny_words / image)]
        assert path_text_confidence[1] == labels[image]
        assert 0.0 < float(path_text_confidence[2]) <= 1.0
    errors = err.strip().splitlines()
    assert sorted(os.path.basename(e.split(": ")[1]) for e in errors) == ["notes.txt", "zero.png"]
    assert {"dot.png", "cmyk.jpg", "deep.png", "huge.png", "anim.gif"} <= {os.path.basename(p) for p in by_path}
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    assert sheet.shape[0] == 40 * 6 and sheet.min() < 50  # 11 readings in 2 columns, drawn


def test_predict_over_two_thousand_files_reads_every_good_one_and_names_every_bad_one(tiny_model, tiny_words, tmp_path,
                                                                                     capsys):
    labels = dict(line.split("\t")[:2] for line in (tiny_words / "labels.tsv").read_text().splitlines())
    sources = sorted(labels)[:8]
    folder = tmp_path / "many"
    folder.mkdir()
    expected = {}
    for i in range(2000):
        if i % 40 == 7:  # 50 bad files spread through the run, two kinds
            (folder / f"{i:04d}.png").write_bytes(b"" if i % 80 == 7 else b"\x89PNG\r\n\x1a\n truncated")
        else:
            source = sources[i % len(sources)]
            os.link(tiny_words / source, folder / f"{i:04d}.png")
            expected[str(folder / f"{i:04d}.png")] = labels[source]
    code, out, err = call("predict", ["--model", tiny_model[0], folder], capsys)
    assert code == 1
    read = dict(line.split("\t")[:2] for line in out.strip().splitlines())
    assert read == expected
    failed = sorted(line.split(": ")[1] for line in err.strip().splitlines())
    assert failed == sorted(str(folder / f"{i:04d}.png") for i in range(7, 2000, 40))


def test_predict_json_and_decoders_agree_on_a_clean_word(tiny_model, tiny_words, capsys, tmp_path):
    path, _, _ = tiny_model
    first = sorted(p for p in os.listdir(tiny_words / "0000"))[0]
    image = tiny_words / "0000" / first
    truth = dict(line.split("\t")[:2] for line in (tiny_words / "labels.tsv").read_text().splitlines())[f"0000/{first}"]
    for decoder_args in (["--decoder", "greedy"], ["--decoder", "beam", "--beam-width", "5"]):
        code, out, _ = call("predict", ["--model", path, image, "--format", "json", *decoder_args], capsys)
        result = json.loads(out)
        assert code == 0 and result[0]["text"] == truth and result[0]["error"] == ""
    lexicon = tmp_path / "lexicon.txt"
    variants = {case(w) for w in TINY_WORDS + ["cot", "dig", "Kay", "sin"] for case in (str.lower, str.capitalize, str.upper)}
    lexicon.write_text("\n".join(sorted(variants)))
    code, out, _ = call("predict", ["--model", path, image, "--lexicon", lexicon], capsys)
    assert code == 0 and out.split("\t")[1] == truth


def test_evaluate_scores_the_tiny_set_perfectly(tiny_model, tiny_words, tmp_path, capsys):
    path, data, _ = tiny_model
    code, out, _ = call("evaluate", ["--model", path, "--labels", data, "--split", "train", "--errors",
                                     tmp_path / "errors.tsv", "--json", tmp_path / "report.json"], capsys)
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["count"] == 32 and report["word_accuracy"] == 1.0 and report["cer"] == 0.0 and report["ned"] == 0.0
    assert re.search(r"word_accuracy\s+1\.0000", out)
    assert (tmp_path / "errors.tsv").read_text().count("\n") == 1  # header only
    code, out, _ = call("evaluate", ["--model", path, "--labels", tiny_words / "labels.tsv"], capsys)
    assert code == 0 and re.search(r"count\s+32", out) and re.search(r"word_accuracy\s+1\.0000", out)


@pytest.mark.parametrize("case", ["not_a_model", "plain_keras", "missing", "bad_lexicon", "missing_image"])
def test_bad_model_and_lexicon_inputs_give_one_line(case, tiny_model, tiny_words, tmp_path, capsys):
    path, _, _ = tiny_model
    image = tiny_words / "0000" / "0000000.png"
    args = ["--model", path, image]
    if case == "not_a_model":
        (tmp_path / "m.keras").write_text("hello")
        args = ["--model", tmp_path / "m.keras", image]
    elif case == "plain_keras":
        plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        plain.save(tmp_path / "plain.keras")
        args = ["--model", tmp_path / "plain.keras", image]
    elif case == "missing":
        args = ["--model", tmp_path / "nope.keras", image]
    elif case == "bad_lexicon":
        (tmp_path / "lex.txt").write_text("fine\ncaf\u00e9\n")
        args += ["--lexicon", tmp_path / "lex.txt"]
    else:
        args = ["--model", path, tmp_path / "no_such_image.png"]
    code, out, err = call("predict", args, capsys)
    assert code == 2 and out == ""
    message = err.strip()
    assert message.startswith("error: ") and "\n" not in message and "Traceback" not in message
    expected = {"not_a_model": "not a readable .keras model", "plain_keras": "not a kerasseq recogniser",
                "missing": "model file not found", "bad_lexicon": "outside the model's charset",
                "missing_image": "no such file or folder"}[case]
    assert expected in message


def test_train_script_refuses_bad_requests_in_one_line(dataset, tmp_path, capsys):
    code, _, err = call("train_crnn", ["--data", dataset, "--out", tmp_path / "r", "--batch-size", "5000"], capsys)
    assert code == 2 and err.startswith("error: batch size 5000 is larger than the") and err.count("\n") == 1
    code, _, err = call("train_crnn", ["--data", tmp_path / "nothing", "--out", tmp_path / "r"], capsys)
    assert code == 2 and err.startswith("error: dataset folder not found")


def test_training_without_a_validation_split_trains_and_says_so(rendered, tmp_path, capsys):
    from data_prep.building import PreprocessConfig, build_dataset

    data = tmp_path / "no_val"
    build_dataset(str(rendered[0]), str(data), PreprocessConfig(split="every", val_every=0, limit=64, workers=1),
                  progress=False)
    code, out, err = call("train_crnn", ["--data", data, "--out", tmp_path / "run", "--epochs", "1", "--batch-size", "32"],
                          capsys)
    assert code == 0 and "Traceback" not in err
    assert "the data has no validation split" in out and "saved" in out
    assert (tmp_path / "run" / "model.keras").exists() and (tmp_path / "run" / "training_curves.png").stat().st_size > 0


@pytest.mark.parametrize("export_format, backend, artefact", [
    ("tf_saved_model", "tensorflow", "saved/saved_model.pb"),
    ("onnx", "torch", "model.onnx"),
    ("keras", "jax", "words.keras"),
])
def test_export_reproduces_keras_outputs(tiny_model, tmp_path, export_format, backend, artefact):
    path, _, _ = tiny_model
    out = tmp_path / {"tf_saved_model": "saved", "onnx": "model.onnx", "keras": "words.keras"}[export_format]
    result = run_script("export_model", "--model", path, "--out", out, "--format", export_format, backend=backend)
    assert result.returncode == 0, result.stderr
    difference = float(re.search(r"largest difference from Keras on 4 images: (\S+)", result.stdout).group(1))
    assert difference < 1e-4
    assert (tmp_path / artefact).stat().st_size > 1000


@pytest.mark.slow
def test_nalu_arithmetic_writes_the_same_table_with_two_workers_or_resumed_with_one(tmp_path):
    options = ["--steps", 100, "--seeds", 2, "--kinds", "static", "--operations", "a*b", "a+b", "--models", "nac", "mlp",
               "--skip-applied"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    result = run_script("nalu_arithmetic", *options, "--jobs", 2, "--out", whole)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((whole / "results.json").read_text())["rows"]
    assert [(row["operation"], row["model"]) for row in rows] == [("a*b", "nac"), ("a*b", "mlp"), ("a+b", "nac"),
                                                                   ("a+b", "mlp")]
    assert (whole / "extrapolation.png").stat().st_size > 0
    # a run killed after 3 of its 8 runs, the 4th line cut short: the rerun trains the other 5, in one worker
    lines = (whole / "runs.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 8
    resumed.mkdir()
    (resumed / "runs.jsonl").write_text("".join(lines[:3]) + lines[3][:40])
    result = run_script("nalu_arithmetic", *options, "--jobs", 1, "--out", resumed)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((resumed / "results.json").read_text())["rows"] == rows
    logged = (resumed / "runs.jsonl").read_text().splitlines()
    assert sorted(logged) == sorted(line.rstrip("\n") for line in lines)


def test_nalu_arithmetic_names_an_unknown_operation_in_one_line(capsys, tmp_path):
    code, _, err = call("nalu_arithmetic", ["--operations", "a+b", "a%b", "--out", tmp_path / "out"], capsys)
    assert code == 2 and err.strip().splitlines()[-1].endswith("unknown operation(s) a%b; choose from a+b a-b a*b a/b a^2 sqrt(a)")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name, worker", [
    ("bench_crnn", ["--worker", "keras", "--preset", "small", "--batch", "2", "--steps", "1"]),
    ("bench_tasks", ["--worker", keras.backend.backend(), "--tasks", "forecast"]),
])
def test_the_speed_benchmarks_measure_with_every_route_of_the_backend(name, worker):
    # the routes must go on before Keras loads, or those that only act then (TensorFlow's
    # oneDNN) are silently missing; the settings this suite's own routes left in the
    # environment are taken out, as a user's shell has none of them
    from kerasseq import accel

    backend = keras.backend.backend()
    done = run_script(name, *worker, backend=backend,
                      environment=dict.fromkeys(("TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "KERASSEQ_ACCEL")))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["routes"] == [
        route for route, spec in accel.ROUTES.items() if spec.backend == backend]

import pytest

from kerasseq.data.sources import find_source, text_from_filename
from kerasseq.errors import DataError

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once


@pytest.mark.parametrize("name, text", [
    ("123_Word_45.jpg", "Word"),
    ("./2697/6/466_MONIKER_49537.jpg", "MONIKER"),
    ("7_under_score_8.png", "under_score"),
    ("hello.png", "hello"),
    ("12_ab.png", "12_ab"),
])
def test_label_from_file_name(name, text):
    assert text_from_filename(name) == text


def test_mjsynth_annotation_list(tmp_path):
    (tmp_path / "1" / "2").mkdir(parents=True)
    (tmp_path / "annotation_train.txt").write_text("./1/2/3_Hello_99.jpg 99\n./1/2/4_World_7.jpg 7\n\n")
    source = find_source(str(tmp_path / "annotation_train.txt"))
    assert [(item.text, item.path) for item in source.items] == [
        ("Hello", str(tmp_path / "1/2/3_Hello_99.jpg")), ("World", str(tmp_path / "1/2/4_World_7.jpg"))]
    (tmp_path / "annotation_bad.txt").write_text("./1/2/hello.jpg 3\n")
    with pytest.raises(DataError, match="not an MJSynth name"):
        find_source(str(tmp_path / "annotation_bad.txt"))


def test_mjsynth_folder_and_plain_folder_list_non_images(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/1_Alpha_2.jpg", "a/3_Beta_4.png", "gamma.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    source = find_source(str(tmp_path))
    assert [item.text for item in source.items] == ["gamma", "Alpha", "Beta"]  # a folder's files, then its subfolders
    assert source.rejected == [(str(tmp_path / "notes.txt"), "not an image file (.txt)")]


def test_labels_tsv_with_split_column(tmp_path):
    (tmp_path / "labels.tsv").write_text("x/1.png\tone\tfont.ttf\ttrain\nx/2.png\ttwo\tother.ttf\tval\n")
    items = find_source(str(tmp_path)).items
    assert [(i.path, i.text, i.split) for i in items] == [
        (str(tmp_path / "x/1.png"), "one", "train"), (str(tmp_path / "x/2.png"), "two", "val")]
    (tmp_path / "labels.tsv").write_text("no tab here\n")
    with pytest.raises(DataError, match=r"labels.tsv:1: expected"):
        find_source(str(tmp_path))


def test_missing_and_empty_sources_are_refused(tmp_path):
    with pytest.raises(DataError, match="source not found"):
        find_source(str(tmp_path / "nothing"))
    with pytest.raises(DataError, match="no images found"):
        find_source(str(tmp_path))
    (tmp_path / "list.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="neither a folder"):
        find_source(str(tmp_path / "list.csv"))

import json
import os

import pytest

from data_prep import font_verdicts, rendering
from data_prep.rendering import PILLOW_FONT, bundled_fonts_folder, usable_fonts
from kerasseq.ocr.charset import Charset

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once

ALNUM = Charset.from_spec("alnum")


@pytest.fixture
def fonts(tmp_path):
    """Copies of a font that draws the charset and of one that does not (cmsy10 draws symbols)."""
    copies = []
    for name in ("cmr10.ttf", "cmsy10.ttf"):
        copy = tmp_path / name
        copy.write_bytes(open(os.path.join(bundled_fonts_folder(), name), "rb").read())
        copies.append(str(copy))
    return copies


@pytest.fixture
def checks(monkeypatch, tmp_path):
    """The fonts checked in this test (the cache in a folder of its own)."""
    monkeypatch.setenv("KERASSEQ_CACHE_DIR", str(tmp_path / "cache"))
    checked = []
    check = rendering.draws_plain_characters.__wrapped__  # not the in-process lru_cache

    def counting(font, characters):
        checked.append(font)
        return check(font, characters)

    monkeypatch.setattr(rendering, "draws_plain_characters", counting)
    return checked


def test_each_font_is_checked_once_across_runs_and_again_when_its_file_changes(fonts, checks, tmp_path):
    good, plain = fonts
    assert usable_fonts([*fonts, PILLOW_FONT], ALNUM) == ([good, PILLOW_FONT], [plain])
    assert checks == [*fonts, PILLOW_FONT]
    stored = json.loads((tmp_path / "cache" / font_verdicts.CACHE_FILE).read_text())
    assert stored["version"] == font_verdicts.CHECKS_VERSION and sorted(stored["verdicts"].values()) == [False, True]
    checks.clear()
    assert usable_fonts([*fonts, PILLOW_FONT], ALNUM) == ([good, PILLOW_FONT], [plain])
    assert checks == [PILLOW_FONT]  # no file to key it by, and quick to check
    os.utime(plain, ns=(0, 0))
    checks.clear()
    assert usable_fonts(fonts, ALNUM) == ([good], [plain])
    assert checks == [plain]
    checks.clear()
    usable_fonts(fonts, Charset.from_spec("digits"))  # other characters: other verdicts
    assert checks == fonts


def test_verdicts_of_another_check_version_or_a_broken_file_are_not_used(fonts, checks, tmp_path, monkeypatch):
    usable_fonts(fonts, ALNUM)
    monkeypatch.setattr(font_verdicts, "CHECKS_VERSION", font_verdicts.CHECKS_VERSION + 1)
    checks.clear()
    usable_fonts(fonts, ALNUM)
    assert checks == fonts
    (tmp_path / "cache" / font_verdicts.CACHE_FILE).write_text('{"version": ')
    checks.clear()
    assert usable_fonts(fonts, ALNUM) == ([fonts[0]], [fonts[1]])
    assert checks == fonts
    checks.clear()
    usable_fonts(fonts, ALNUM)  # the broken file was written again
    assert checks == []


def test_a_cache_folder_that_cannot_be_made_only_costs_the_checks(fonts, checks, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("KERASSEQ_CACHE_DIR", str(tmp_path / "file" / "cache"))
    for _ in range(2):
        checks.clear()
        assert usable_fonts(fonts, ALNUM) == ([fonts[0]], [fonts[1]])
        assert checks == fonts


def test_the_cache_folder_follows_kerasseq_and_xdg_settings(monkeypatch):
    monkeypatch.delenv("KERASSEQ_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert font_verdicts.cache_folder() == "/somewhere/kerasseq"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert font_verdicts.cache_folder() == os.path.expanduser("~/.cache/kerasseq")
    monkeypatch.setenv("KERASSEQ_CACHE_DIR", "/elsewhere")
    assert font_verdicts.cache_folder() == "/elsewhere"


def test_verdicts_saved_by_two_runs_at_once_are_all_kept(fonts, tmp_path):
    path = str(tmp_path / "verdicts.json")
    first, second = font_verdicts.FontVerdicts(path), font_verdicts.FontVerdicts(path)
    first.put(fonts[0], "ab", True)
    second.put(fonts[1], "ab", False)
    first.save()
    second.save()
    again = font_verdicts.FontVerdicts(path)
    assert again.get(fonts[0], "ab") is True and again.get(fonts[1], "ab") is False

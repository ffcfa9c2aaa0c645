"""Font checks kept between runs, so a machine with thousands of fonts checks each one once.

:func:`data_prep.rendering.usable_fonts` draws every font's letters and digits to see that
they are the characters themselves: some 20 ms a font, half a minute for the 1,500 fonts
that the reader's training recipe installs, on every run of ``render_words.py``. The
verdicts go to ``font-checks.json`` in :func:`cache_folder`, keyed by the font file's path,
size and modification time and the characters checked, so a font file that changes is
checked again.
"""

import json
import os

from kerasseq import atomic

#: The checks the verdicts come from: raise it whenever what
#: :func:`data_prep.rendering.draws_plain_characters` accepts changes, so that no verdict of
#: an older check is reused.
CHECKS_VERSION = 2
CACHE_FILE = "font-checks.json"


def cache_folder():
    """kerasseq's cache folder: ``$KERASSEQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/kerasseq``,
    else ``~/.cache/kerasseq``."""
    if os.environ.get("KERASSEQ_CACHE_DIR"):
        return os.environ["KERASSEQ_CACHE_DIR"]
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kerasseq")


class FontVerdicts:
    """The verdicts in ``path`` (default: ``font-checks.json`` in :func:`cache_folder`).
    A missing, unreadable or older-version file holds none; one that cannot be written
    leaves the fonts to be checked again next time."""

    def __init__(self, path=None):
        self.path = path or os.path.join(cache_folder(), CACHE_FILE)
        self.verdicts = self._read()
        self.added = {}

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                stored = json.load(handle)
        except (OSError, ValueError):
            return {}
        if not isinstance(stored, dict) or stored.get("version") != CHECKS_VERSION:
            return {}
        return stored.get("verdicts", {})

    @staticmethod
    def _key(font, characters):
        """The key of a font file, or None for one that is no file (Pillow's embedded font)."""
        try:
            stat = os.stat(font)
        except OSError:
            return None
        return f"{os.path.abspath(font)}|{stat.st_size}|{stat.st_mtime_ns}|{characters}"

    def get(self, font, characters):
        """The kept verdict on ``font`` drawing ``characters`` (a str), or None."""
        key = self._key(font, characters)
        return self.verdicts.get(key) if key else None

    def put(self, font, characters, verdict):
        """Keep ``verdict`` (bool) until :meth:`save`."""
        key = self._key(font, characters)
        if key:
            self.verdicts[key] = self.added[key] = bool(verdict)

    def save(self):
        """Write the verdicts added, with those another process wrote meanwhile."""
        if not self.added:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            merged = {**self._read(), **self.added}
            atomic.write_json(self.path, {"version": CHECKS_VERSION, "verdicts": merged}, indent=None)
        except OSError:
            pass  # a cache folder that cannot be written: the fonts are checked again next run

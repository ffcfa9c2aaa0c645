"""The vocabulary of a recogniser: characters, the CTC blank and label padding.

Convention used everywhere in kerasseq (it is Keras 3's own CTC convention):
class 0 is the CTC blank and also the label padding value; the characters are
classes 1..N, so a model over N characters has N + 1 outputs.
"""

import string

import numpy as np

from kerasseq.errors import DataError

BLANK_INDEX = 0
PADDING_VALUE = 0

#: Named character sets accepted wherever a charset is asked for.
CHARSETS = {
    "alnum": string.ascii_letters + string.digits,  # the reference's 62 characters
    "lower": string.ascii_lowercase + string.digits,
    "digits": string.digits,
    "printable": string.ascii_letters + string.digits + string.punctuation,
}
DEFAULT_CHARSET = "alnum"


def steps_needed(labels):
    """(n, L) labels padded with 0 -> (n,) fewest output steps CTC needs to emit each:
    its length plus one blank between each pair of equal neighbouring classes."""
    labels = np.asarray(labels)
    present = labels != PADDING_VALUE
    repeats = present[:, 1:] & (labels[:, 1:] == labels[:, :-1])
    return present.sum(axis=1) + repeats.sum(axis=1)


class Charset:
    """An ordered set of distinct characters mapped to CTC classes 1..N."""

    def __init__(self, characters):
        characters = str(characters)
        if not characters:
            raise DataError("charset is empty: give at least one character")
        duplicates = sorted({c for c in characters if characters.count(c) > 1})
        if duplicates:
            raise DataError(f"charset repeats characters {''.join(duplicates)!r}")
        self.characters = characters
        self._index = {c: i + 1 for i, c in enumerate(characters)}
        self._lookup = np.array([""] + list(characters), dtype=object)

    @classmethod
    def from_spec(cls, spec):
        """Charset from a :data:`CHARSETS` name (``alnum``, ``lower``, ``digits``, ``printable``),
        ``@FILE`` (the characters in a UTF-8 file, newlines ignored) or literal characters."""
        if spec in CHARSETS:
            return cls(CHARSETS[spec])
        if spec.startswith("@"):
            try:
                with open(spec[1:], encoding="utf-8") as handle:
                    text = handle.read().replace("\n", "").replace("\r", "")
            except OSError as error:
                raise DataError(f"cannot read charset file {spec[1:]!r}: {error.strerror}") from None
            return cls(text)
        return cls(spec)

    @classmethod
    def from_texts(cls, texts):
        """The sorted set of characters used in ``texts``."""
        return cls("".join(sorted(set("".join(texts)))))

    def __len__(self):
        return len(self.characters)

    def __eq__(self, other):
        return isinstance(other, Charset) and other.characters == self.characters

    def __repr__(self):
        return f"Charset({self.characters!r})"

    @property
    def num_classes(self):
        """Model outputs: the characters plus the CTC blank."""
        return len(self.characters) + 1

    def unknown_characters(self, text):
        """The characters of ``text`` outside this charset, sorted, as a string."""
        return "".join(sorted({c for c in text if c not in self._index}))

    def encode(self, text):
        """``text`` -> int32 array of classes in 1..N; raises DataError on unknown characters."""
        unknown = self.unknown_characters(text)
        if unknown:
            raise DataError(f"text {text!r} has characters outside the charset: {unknown!r}")
        return np.array([self._index[c] for c in text], dtype=np.int32)

    def encode_padded(self, texts, length=None):
        """``texts`` -> (len(texts), length) int32, each label padded with PADDING_VALUE.

        ``length`` defaults to the longest text; a longer text raises DataError.
        """
        encoded = [self.encode(t) for t in texts]
        longest = max((len(e) for e in encoded), default=0)
        length = longest if length is None else length
        if longest > length:
            raise DataError(f"a label has {longest} characters, more than the {length} allowed")
        labels = np.full((len(texts), length), PADDING_VALUE, dtype=np.int32)
        for row, codes in enumerate(encoded):
            labels[row, : len(codes)] = codes
        return labels

    def decode(self, classes):
        """Classes (any int sequence) -> text; blanks/padding (0) and -1 are dropped."""
        classes = np.asarray(classes, dtype=np.int64)
        classes = classes[(classes > 0) & (classes <= len(self.characters))]
        return "".join(self._lookup[classes])

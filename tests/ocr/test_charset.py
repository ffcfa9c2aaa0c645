import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kerasseq.errors import DataError
from kerasseq.ocr.charset import CHARSETS, Charset, steps_needed

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once

ALNUM = Charset.from_spec("alnum")


def test_alnum_preset_is_the_reference_62_characters_plus_blank():
    assert len(ALNUM) == 62
    assert ALNUM.num_classes == 63
    assert ALNUM.encode("a")[0] == 1 and ALNUM.encode("9")[0] == 62


def test_encode_padded_pads_with_zero_and_refuses_overlong():
    labels = ALNUM.encode_padded(["ab", "c"], length=4)
    np.testing.assert_array_equal(labels, [[1, 2, 0, 0], [3, 0, 0, 0]])
    assert labels.dtype == np.int32
    with pytest.raises(DataError, match="more than the 1 allowed"):
        ALNUM.encode_padded(["ab"], length=1)


def test_unknown_characters_are_named():
    with pytest.raises(DataError, match="outside the charset: '!-'"):
        ALNUM.encode("a-b!")


def test_decode_drops_blank_and_minus_one():
    assert ALNUM.decode([0, 1, -1, 2, 0]) == "ab"


@pytest.mark.parametrize("text, steps", [("ab", 2), ("aa", 3), ("aaa", 5), ("abba", 5), ("a", 1)])
def test_steps_needed_counts_a_blank_between_repeats(text, steps):
    assert steps_needed(ALNUM.encode_padded([text], length=8))[0] == steps


def test_charset_specs(tmp_path):
    charset_file = tmp_path / "chars.txt"
    charset_file.write_text("xyz\n12\n", encoding="utf-8")
    assert Charset.from_spec(f"@{charset_file}").characters == "xyz12"
    assert Charset.from_spec("abc").characters == "abc"
    assert Charset.from_texts(["ba", "ca"]).characters == "abc"
    with pytest.raises(DataError, match="repeats"):
        Charset("abca")
    with pytest.raises(DataError, match="cannot read charset file"):
        Charset.from_spec(f"@{tmp_path / 'missing.txt'}")


@given(st.lists(st.text(alphabet=CHARSETS["printable"], min_size=1, max_size=31), min_size=1, max_size=8))
def test_encode_pad_decode_round_trip(texts):
    charset = Charset.from_spec("printable")
    labels = charset.encode_padded(texts, length=31)
    assert labels.shape == (len(texts), 31)
    assert [charset.decode(row) for row in labels] == texts
    assert list((labels != 0).sum(axis=1)) == [len(t) for t in texts]

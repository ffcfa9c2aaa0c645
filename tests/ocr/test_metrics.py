"""Recognition metrics, and the 95% interval every published word accuracy carries."""

import pytest

from kerasseq.ocr.metrics import recognition_report, wilson_interval

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once


@pytest.mark.parametrize("successes, trials, low, high", [
    (50, 100, 0.4038, 0.5962),  # textbook values of the Wilson interval
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (495, 500, 0.9768, 0.9957),  # 5 misses in 500: 0.99 cannot be told from 0.98
])
def test_the_wilson_interval_matches_its_textbook_values(successes, trials, low, high):
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=1e-4)


def test_a_report_gives_word_accuracy_with_its_interval_and_the_error_rates():
    report = recognition_report(["cat", "Dog", "sun", "mop"], ["cat", "dog", "sun", "map"])
    assert report["word_accuracy"] == 0.5 and report["word_accuracy_nocase"] == 0.75
    assert (report["word_accuracy_low"], report["word_accuracy_high"]) == pytest.approx(wilson_interval(2, 4))
    assert report["cer"] == pytest.approx(2 / 12)

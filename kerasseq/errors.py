"""The one exception family kerasseq raises for bad input.

Scripts catch :class:`KerasseqError`, print its one-line message and exit non-zero, so
users never see a bare traceback for a mistake in what they passed in.
"""


class KerasseqError(Exception):
    """Bad input from the user: the message says what, with which value, and what to do."""


class DataError(KerasseqError):
    """A dataset, image, label or charset that cannot be used."""


class ModelError(KerasseqError):
    """A model file or model configuration that cannot be used."""


class TrainingError(KerasseqError):
    """A run that cannot go on as set up (its loss stopped being finite)."""

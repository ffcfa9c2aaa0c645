"""Choosing the Keras backend before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, at import time, so every script parses
``--backend`` with :func:`add_backend_argument` and calls :func:`select_backend`
before it imports anything that imports Keras.
"""

import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")

#: Keras dtype policies a recogniser can compute in (``--precision``); listed here so
#: scripts offer them before Keras is imported.
PRECISIONS = ("float32", "mixed_bfloat16")


def add_backend_argument(parser):
    """Add ``--backend {tensorflow,jax,torch}`` to an ``argparse`` parser."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )


def select_backend(name):
    """Make ``name`` the Keras backend; ``None`` keeps ``$KERAS_BACKEND``.

    Also quietens TensorFlow's start-up chatter. Raises ``RuntimeError`` if Keras was
    already imported with another backend, which would silently ignore the choice.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if name is None:
        return os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != name:
            raise RuntimeError(
                f"Keras was imported with backend {keras.backend.backend()!r} before "
                f"--backend {name} was applied"
            )
    os.environ["KERAS_BACKEND"] = name
    return name

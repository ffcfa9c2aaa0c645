"""kerasseq: sequence learning with recurrent networks on Keras 3 (TensorFlow, JAX, PyTorch).

Importing ``kerasseq`` does not import Keras: the public names below load on first
use, so a script can still choose the backend after ``import kerasseq``.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Charset": "kerasseq.charset",
    "KerasseqError": "kerasseq.errors",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasseq' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))

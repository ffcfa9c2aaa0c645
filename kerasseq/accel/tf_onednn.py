"""TensorFlow on a CPU: its oneDNN kernels, also where TensorFlow leaves them off.

TensorFlow's x86 Linux build runs convolutions, pooling and batch norm through oneDNN
only on CPUs it picks (those with AVX-512 VNNI, bfloat16 or AMX instructions); on others,
AVX2-only ones such as AMD's Zen 2, it falls back to its Eigen kernels. There the small
CRNN's convolutions, forward and backward, ran about 1.5 times faster on oneDNN
(measurements in ``docs/measurements.md``). Its route (``onednn`` in
:mod:`kerasseq.accel`), :func:`use_onednn_cpu_kernels`, sets
``TF_ENABLE_ONEDNN_OPTS=1``, which TensorFlow reads once, when it is imported: the
setting applies only if TensorFlow is not loaded yet (the scripts enable the routes
before they import Keras), and child processes inherit it. A ``TF_ENABLE_ONEDNN_OPTS``
the user set, to 0 or 1, is left alone. oneDNN sums in another order than Eigen, so
results differ by float32 rounding.
"""

import os
import sys

SWITCH = "TF_ENABLE_ONEDNN_OPTS"


def use_onednn_cpu_kernels():
    """Ask TensorFlow for its oneDNN kernels if it is not loaded yet and the user has not
    chosen (see the module's docstring). Returns whether TensorFlow runs on oneDNN, or
    None while it is not loaded."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault(SWITCH, "1")
        return None
    return onednn_enabled()


def onednn_enabled():
    """Whether the TensorFlow loaded in this process runs its oneDNN kernels (imports it)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())

"""JAX on a CPU: convolutions through XLA's Eigen kernels instead of YNNPACK.

jaxlib 0.10-0.11 hands XLA:CPU's convolutions, dots and reductions to YNNPACK. For the
CRNN's 3×3 convolutions YNNPACK is the slower of XLA's two kernels: the blog network's
largest convolution (batch 16, 4×32×512 -> 512) took 81-98 ms forward and backward
there, 64-72 ms in Eigen, and the blog network trained at batch 64 at 46.5 and 48.9
images/s against 64.0 and 63.0 with the convolutions on Eigen (float32, two alternating
runs each on a 2-core Zen 5 EPYC). Its route (``eigen_convolutions`` in :mod:`kerasseq.accel`),
:func:`use_eigen_cpu_convolutions`, takes only convolutions out of YNNPACK (dots
and reductions stay there) through ``XLA_FLAGS``.

XLA reads ``XLA_FLAGS`` once, when JAX starts its CPU backend, so the setting applies
only if no JAX computation has run yet in the process; it is inherited by child
processes. A ``XLA_FLAGS`` that already sets ``--xla_cpu_experimental_ynn_fusion_type``
is left alone (``--xla_cpu_experimental_ynn_fusion_type=+individual_convolution`` keeps
XLA's default), and so is every jaxlib outside 0.10-0.11, whose XLA may not know the flag
and would refuse to start.
"""

import os
from importlib import metadata

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
#: jaxlib (major, minor) versions whose XLA:CPU is known to take the flag.
KNOWN_JAXLIB = ((0, 10), (0, 11))


def eigen_convolution_flags(xla_flags, jaxlib_version):
    """``xla_flags`` (an ``XLA_FLAGS`` value, '' when unset) with convolutions taken out of
    YNNPACK, or unchanged when it already sets the YNNPACK fusion types or when
    ``jaxlib_version`` (e.g. "0.10.2"; None when jaxlib is missing) is not one whose XLA
    knows the flag."""
    if YNN_FLAG in xla_flags or jaxlib_version is None:
        return xla_flags
    try:
        major_minor = tuple(int(part) for part in jaxlib_version.split(".")[:2])
    except ValueError:  # a version this code cannot read is not one known to take the flag
        return xla_flags
    if major_minor not in KNOWN_JAXLIB:
        return xla_flags
    return f"{xla_flags} {YNN_FLAG}=-individual_convolution".strip()


def use_eigen_cpu_convolutions():
    """On the JAX backend, set ``XLA_FLAGS`` so that XLA:CPU runs convolutions on Eigen
    (see the module's docstring for when it applies). Idempotent; a no-op elsewhere."""
    import keras

    if keras.backend.backend() != "jax":
        return
    try:
        jaxlib_version = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        jaxlib_version = None
    flags = eigen_convolution_flags(os.environ.get("XLA_FLAGS", ""), jaxlib_version)
    if flags:
        os.environ["XLA_FLAGS"] = flags

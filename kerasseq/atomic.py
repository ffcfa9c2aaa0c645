"""Writing files so that a run killed at any moment leaves the old file or the new one,
never half of one: write to a temporary name beside the target, flush, rename."""

import contextlib
import json
import os


@contextlib.contextmanager
def replacing(path, suffix=""):
    """Yield a temporary path beside ``path`` (ending in ``suffix``, e.g. ``".keras"``
    where a writer checks the extension); once the block has written it, rename it onto
    ``path``. If the block raises, ``path`` is untouched and the temporary file removed."""
    temporary = f"{path}.tmp{os.getpid()}{suffix}"
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def replacing_file(path, mode="wb", **open_arguments):
    """Like :func:`replacing`, but yield the open temporary file; it is flushed and
    fsynced before the rename, so the new contents are on disk once ``path`` names them."""
    with replacing(path) as temporary, open(temporary, mode, **open_arguments) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    with replacing_file(path) as handle:
        handle.write(data)


def write_json(path, value, indent=1):
    """Write ``value`` as JSON (sorted keys; ``indent=None``: compact) to ``path`` atomically."""
    write_bytes(path, json.dumps(value, indent=indent, sort_keys=True).encode("utf-8"))

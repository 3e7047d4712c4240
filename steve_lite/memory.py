"""Giving freed memory back to the system."""

import contextlib
import ctypes


def release_freed_memory() -> None:
    """Return memory freed by a task to the system (glibc keeps it in its arenas otherwise:
    measured with ``bench/processing.py``, the worker's RSS crept up page after page)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)

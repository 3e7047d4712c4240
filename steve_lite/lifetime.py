"""Tying a child process's life to its parent's (Linux only; elsewhere nothing is done)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies; exit at once if the
    parent (``parent_pid``) is already gone.

    The kernel ties this to the parent *thread* that started this process: start children
    from long-lived threads.
    """
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:
        os._exit(1)


def die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child receive SIGTERM when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    parent_pid = os.getpid()
    return lambda: die_with_parent(parent_pid)

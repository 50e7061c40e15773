"""A study stopped by a signal (Ctrl+C, SIGTERM): how the launch notices it and what it tells the user.

Ray Tune takes the first SIGINT itself: it stops starting trials, stops the running ones and returns from `fit`
as if the experiment were done (a second SIGINT raises KeyboardInterrupt at once). The launcher therefore checks
what actually ended: a trial this launch meant to run and never closed means the launch was interrupted.
SIGTERM is turned into SIGINT, so a scheduler's stop takes the same path.
"""
from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


class StudyInterrupted(Exception):
    """The launch stopped before every trial ran; the store says which ran and `sedstudy resume` continues."""


@contextlib.contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """While the study runs, SIGTERM is delivered as SIGINT (in the main thread only; elsewhere unchanged)."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

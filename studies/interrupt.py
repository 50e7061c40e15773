"""A study stopped by a signal (Ctrl+C, SIGTERM): how the launch notices it and what it tells the user.

Ray Tune takes the first SIGINT itself: it stops starting trials, stops the running ones and returns from `fit`
as if the experiment were done (a second SIGINT raises KeyboardInterrupt at once). The launcher therefore checks
what actually ended: a trial this launch meant to run and never closed means the launch was interrupted.
SIGTERM is turned into SIGINT, so a scheduler's stop takes the same path. A study whose trials waited longer than
``resources.wait_limit_s`` for resources (studies/resource_wait.py) stops the same way, with its own reason, and
so does a study whose tracking server stopped answering for longer than ``failures.tracking_outage_s``
(studies/tracking_outage.py).
"""
from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT
EXIT_RESOURCES_WAIT = 75  # sysexits' EX_TEMPFAIL: the cluster had no room for the trials; try again later
EXIT_TRACKING_UNAVAILABLE = 69  # sysexits' EX_UNAVAILABLE: the tracking server stopped answering


class StudyInterrupted(Exception):
    """The launch stopped before every trial ran; the store says which ran and `sedstudy resume` continues."""

    exit_code = EXIT_INTERRUPTED


class ResourcesWaitExceeded(StudyInterrupted):
    """The trials waited longer than ``resources.wait_limit_s`` for resources, none running; the message says what
    they ask for and what the cluster has free."""

    exit_code = EXIT_RESOURCES_WAIT


class TrackingUnavailable(StudyInterrupted):
    """The tracking server did not answer for longer than ``failures.tracking_outage_s``; the records it did not
    take are in the study's journal (studies/tracking_outage.py), which `sedstudy resume` writes first."""

    exit_code = EXIT_TRACKING_UNAVAILABLE


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

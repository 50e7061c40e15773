"""Third-party notices a sedstudy user cannot act on, filtered by their text: never a whole logger, never all
warnings. Installed by the CLI at start and by the launcher before Ray starts (library callers too)."""
from __future__ import annotations

import logging
import os
import warnings

# Ray's note that a local cluster turned token authentication on (it is on, as it should be; nothing to do)
RAY_TOKEN_NOTICE = "Token authentication is enabled for this Ray cluster"
RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"
# sed_scores_eval imports dcase_util, which imports the deprecated pkg_resources (setuptools<81 is pinned)
PKG_RESOURCES_WARNING = "pkg_resources is deprecated"
# Tune's list, as `fit` returns, of trials with no result file: those a stopped study never started (a line each,
# before the message that says what stopped it); the store records what ran
TUNE_UNREPORTED_LOGGER = "ray.tune.analysis.experiment_analysis"
TUNE_UNREPORTED_NOTICE = "Failed to fetch metrics for "
TUNE_UNREPORTED_CAUSE = "both result.json and progress.csv were not found"


class DropMessages(logging.Filter):
    """Drops the records whose message starts with one of ``prefixes``; lets every other record through."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


class DropUnreportedTrials(logging.Filter):
    """Drops Tune's list of trials whose metrics it could not read when no result file is the cause of every one;
    a list with any other cause passes whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(TUNE_UNREPORTED_NOTICE):
            return True
        causes = [line for line in message.splitlines()[1:] if line.startswith("- ")]
        return not causes or not all(TUNE_UNREPORTED_CAUSE in line for line in causes)


def quiet_third_party() -> None:
    """Idempotent. Ray's trial workers inherit the warning filter through PYTHONWARNINGS."""
    warnings.filterwarnings("ignore", message=PKG_RESOURCES_WARNING, category=UserWarning)
    ours = f"ignore:{PKG_RESOURCES_WARNING}:UserWarning"
    present = os.environ.get("PYTHONWARNINGS", "")
    if ours not in present.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [present, ours]))
    logger = logging.getLogger(RAY_TOKEN_LOGGER)
    if not any(isinstance(f, DropMessages) for f in logger.filters):
        logger.addFilter(DropMessages(RAY_TOKEN_NOTICE))
    tune_logger = logging.getLogger(TUNE_UNREPORTED_LOGGER)
    if not any(isinstance(f, DropUnreportedTrials) for f in tune_logger.filters):
        tune_logger.addFilter(DropUnreportedTrials())

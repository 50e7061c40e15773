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


class DropMessages(logging.Filter):
    """Drops the records whose message starts with one of ``prefixes``; lets every other record through."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


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

"""The text of `sedstudy --version`."""
from __future__ import annotations

import platform


def version_text() -> str:
    """``sedstudy 0.1.0 (Python 3.11.9)``: the installed package's version, without importing torch or Ray."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("sedstudy")
    except PackageNotFoundError:
        package = "unknown (not installed; run `pip install -e .`)"
    return f"sedstudy {package} (Python {platform.python_version()})"

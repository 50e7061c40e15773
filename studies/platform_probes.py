"""MLflow asks, before every request to a tracking server, whether it runs on Databricks: it imports ``dbruntime``,
``pyspark`` and ``IPython`` each time, and an import of a package that is not installed searches every
``sys.path`` entry again (0.4 ms of CPU a request here, more on a busy machine with a long path). A finder put
first on ``sys.meta_path`` makes those imports fail at once for the packages that were not installed when it was
put there, as they would have failed anyway; an installed one is left alone, and ``sys.modules`` is not touched
(Ray tells a notebook by ``"IPython" in sys.modules``)."""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

PROBED = ("dbruntime", "pyspark", "IPython")


class AbsentPackages(importlib.abc.MetaPathFinder):
    """Raises ModuleNotFoundError for the packages ``names`` and their modules, before any other finder looks."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def skip_absent_platform_probes() -> tuple[str, ...]:
    """Make the imports of the probed packages that are not installed fail at once; returns those packages."""
    if any(isinstance(finder, AbsentPackages) for finder in sys.meta_path):
        return ()
    absent = []
    for name in PROBED:
        try:
            found = name in sys.modules or importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(name)
    if absent:
        sys.meta_path.insert(0, AbsentPackages(tuple(absent)))
    return tuple(absent)

"""Each verb module of studies/cli/ declares one Verb, and the table that builds the parser lists every one once."""
from __future__ import annotations

import importlib
from pathlib import Path

from studies.cli import VERBS
from studies.cli.verb import Verb

CLI = Path(__file__).resolve().parents[2] / "studies" / "cli"


def test_every_declared_verb_is_in_the_table_once():
    declared = []
    for path in sorted(CLI.glob("*.py")):
        if path.stem == "__main__":
            continue  # running it is calling sedstudy
        verb = getattr(importlib.import_module(f"studies.cli.{path.stem}"), "VERB", None)
        if isinstance(verb, Verb):
            declared.append(verb)
    assert sorted(v.name for v in VERBS) == sorted(v.name for v in declared)
    assert len({v.name for v in VERBS}) == len(VERBS)

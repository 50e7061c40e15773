"""A user's clone is all there is: nothing in the repository reads or points to a folder beside it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# the project's private folder next to the checkout, however it is spelled (assembled so this file passes)
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", r"SEDSTUDY_" + "SHARED", r"(?<![\w/])" + "shared/(?:data|reference|"
                                                                                         r"SYNTH_DATA|DESIGN|STYLE)"]))


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO_ROOT / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_refers_to_a_folder_beside_the_repository() -> None:
    found = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        found += [f"{path.relative_to(REPO_ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in OUTSIDE.finditer(text)]
    assert not found, "\n".join(found)


def test_the_official_desed_lists_ship_with_their_licence() -> None:
    lists = REPO_ROOT / "sed_core" / "data" / "desed_lists"
    assert "MIT License" in (lists / "LICENSE").read_text()
    assert {p.relative_to(lists).as_posix() for p in lists.rglob("*.tsv")} == {
        "train/weak.tsv", "train/unlabel_in_domain.tsv", "validation/validation.tsv",
        "validation/validation_durations.tsv", "eval/public.tsv"}

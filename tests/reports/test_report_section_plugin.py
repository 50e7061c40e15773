"""A report section is one module plus one registration: a throwaway one (tests/throwaway_parts.py) shows on the
Markdown and HTML pages and writes its CSV, with no other file of reports/ edited."""
from __future__ import annotations

from pathlib import Path

from reports.build import build_report


def test_a_new_report_section_is_on_every_page(throwaway_section, store, tmp_path: Path):
    paths = build_report(store.uri, "quickstart", tmp_path / "report", clip_statistic=None, learning_curves=False)
    markdown, html = paths.markdown.read_text(), paths.html.read_text()
    assert "## Seeds per cell\n\n| cell | seeds |" in markdown
    assert f'<section id="{throwaway_section.key}">\n<h2>Seeds per cell</h2>' in html
    assert markdown.index("## Seeds per cell") > markdown.index("## Results per cell")  # where it was placed
    csv = (paths.out_dir / "seeds_per_cell.csv").read_text().splitlines()
    assert csv[0] == "cell,seeds" and len(csv) > 2

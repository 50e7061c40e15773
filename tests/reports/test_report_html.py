"""The HTML page in headless Chromium (Debian's `chromium`): it loads without console errors, every section is
shown and every image decodes; and every number links to the runs it comes from."""
from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from reports.fetch.load import load_study
from reports.sections.registry import report_layout

from .conftest import UI_BASE

# Injected into a copy of the page: after load, writes what it found onto <body> (read back with --dump-dom) and
# logs one console line, which proves that console output is captured at all.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const decoded = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  const shown = [...document.querySelectorAll("section")].filter((s) => s.getBoundingClientRect().height > 0);
  document.body.dataset.images = images.length + "/" + decoded;
  document.body.dataset.shown = shown.map((s) => s.id).join(",");
  console.log("probe ran");
});
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def loaded(ragged_report, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """(DOM after load, console lines) of the ragged study's page."""
    work = tmp_path_factory.mktemp("chromium")
    page = work / "report.html"
    page.write_text(ragged_report.html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                    encoding="utf-8")
    result = subprocess.run(
        [chromium(), "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={work / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


def test_page_loads_without_console_errors(loaded: tuple[str, list[str]]) -> None:
    _, console = loaded
    assert len(console) == 1 and '"probe ran"' in console[0], console


def test_every_section_is_shown_and_every_image_decodes(loaded: tuple[str, list[str]], ragged_report) -> None:
    dom, _ = loaded
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None
    shown = re.search(r'data-shown="([^"]*)"', body.group(1)).group(1).split(",")
    assert shown == [entry.key for entry in report_layout() if not entry.optional]
    images = re.search(r'data-images="(\d+)/(\d+)"', body.group(1))
    pngs = [path for path in ragged_report.figures if path.suffix == ".png"]
    assert images.group(1) == images.group(2) == str(len(pngs)) == "5"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])
        if tag == "script":
            self.scripts += 1
        if tag in ("img", "link", "script") and (values.get("src") or values.get("href") or "").startswith("http"):
            self.external.append(tag)


def test_numbers_link_to_their_runs(ragged_report, store) -> None:
    parser = _Links()
    parser.feed(ragged_report.html.read_text(encoding="utf-8"))
    assert parser.scripts == 0 and parser.external == []  # self-contained
    anchors = [href for href in parser.hrefs if href.startswith("#runs-")]
    assert anchors and all(anchor[1:] in parser.ids for anchor in anchors)
    runs = load_study(store.uri, "ragged")
    expected = {f"{UI_BASE}/#/experiments/{runs.experiment_id}/runs/{run_id}" for run_id in runs.runs["run_id"]}
    assert {href for href in parser.hrefs if href.startswith(UI_BASE)} == expected


def test_failed_and_missing_trials_are_on_the_page(ragged_report) -> None:
    text = ragged_report.html.read_text(encoding="utf-8")
    assert "ValueError: NaN loss" in text
    assert text.count('class="status-missing">missing</td>') == 5  # max/0.0 seed 3, mean/0.5 1-3, mean/0.0 0
    assert 'class="status-RUNNING">RUNNING' in text
    assert "Missing trials (5): planned, never run" in text


"""The README's two commands as a new user runs them, timed, and the README's measured table rewritten from them.

    python3 bench/first_hour.py                      # command 1 on a fresh clone; prints the table
    python3 bench/first_hour.py --tests              # also command 2's pytest in a second fresh clone
    python3 bench/first_hour.py --write-readme       # and rewrites README.md between the quickstart markers

Clones the repository's committed HEAD into a new temporary folder (nothing beside it), then runs command 1
exactly as the README gives it, phase by phase (venv + pip install, then `sedstudy run studies/quickstart.yaml`,
which generates the data, runs the trials and writes the report), and reads the numbers back from the study's
MLflow store: the baseline cell's PSDS1 / PSDS2 over its seeds. The load average at the start is recorded
beside the times, since a busy machine stretches them. Uses only the standard library and the clone's own venv.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- first-hour:begin (bench/first_hour.py writes this table) -->", "<!-- first-hour:end -->"

# Reads the baseline cell's metrics from the clone's store with the clone's own interpreter.
READ_STORE = """
import json, statistics, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name("quickstart")
parent = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'study'")[0]
baseline = parent.data.tags["sedstudy.baseline_cell"]
runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'")
names = json.loads(parent.data.tags.get("sedstudy.display", "{}")).get("cells", {})
out = {"baseline": names.get(baseline, baseline), "trials": len(runs),
       "finished": sum(r.info.status == "FINISHED" for r in runs)}
for metric in ("psds1", "psds2"):
    values = [r.data.metrics[metric] for r in runs if r.data.tags["sedstudy.cell"] == baseline \
and metric in r.data.metrics]
    out[metric] = [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else float("nan"), len(values)]
print(json.dumps(out))
"""


def run(command: str, cwd: Path, log: Path) -> float:
    """Run `command` in a shell in `cwd`, its output to `log`; the wall seconds. Raises on failure."""
    start = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(["bash", "-c", command], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"`{command}` failed with exit code {result.returncode} after {seconds:.0f} s:\n{tail}")
    return seconds


def readme_commands() -> tuple[str, str]:
    """Command 1 (the quickstart) and command 2 (the tests) as the README gives them."""
    blocks = re.findall(r"```bash\n(.*?)\n```", (REPO / "README.md").read_text(), flags=re.S)
    quickstart = next(b for b in blocks if "sedstudy run studies/quickstart.yaml" in b)
    tests = next(b for b in blocks if "-m pytest" in b)
    return quickstart.strip(), tests.strip()


def fresh_clone(parent: Path, name: str) -> Path:
    target = parent / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True)
    return target


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def du(path: Path) -> str:
    size = int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])
    return f"{size / 1e9:.1f} GB"


def measure(with_tests: bool) -> dict:
    quickstart, tests = readme_commands()
    install, run_study = quickstart.split(" && .venv/bin/sedstudy ", 1)
    work = Path(tempfile.mkdtemp(prefix="sedstudy_first_hour_"))
    facts: dict = {"date": datetime.date.today().isoformat(), "cores": os.cpu_count(), "machine": platform.machine(),
                   "load": os.getloadavg()[0], "work": str(work),
                   "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                            text=True, check=True).stdout.strip()}
    clone = fresh_clone(work, "fresh")
    facts["install_s"] = run(install, clone, work / "install.log")
    facts["venv"] = du(clone / ".venv")
    facts["study_s"] = run(".venv/bin/sedstudy " + run_study, clone, work / "quickstart.log")
    store = f"sqlite:///{clone / 'sedstudy_work' / 'mlflow.db'}"
    read = subprocess.run([str(clone / ".venv/bin/python"), "-c", READ_STORE, store], capture_output=True,
                          text=True, check=True)
    facts["store"] = json.loads(read.stdout)
    facts["report"] = (clone / "sedstudy_work" / "reports" / "quickstart" / "report.html").is_file()
    if with_tests:
        test_clone = fresh_clone(work, "fresh_tests")
        if tests.startswith("apt-get"):  # the system packages are the machine's, not the clone's
            tests = tests.split(" && ", 1)[1]
        install_tests, pytest = tests.split(" && .venv/bin/python -m pytest", 1)
        facts["test_install_s"] = run(install_tests, test_clone, work / "test_install.log")
        facts["pytest_s"] = run(".venv/bin/python -m pytest" + pytest, test_clone, work / "pytest.log")
        summary = [line for line in (work / "pytest.log").read_text().splitlines() if " passed" in line]
        facts["pytest_summary"] = summary[-1].strip("= ") if summary else "?"
    shutil.rmtree(clone / ".venv", ignore_errors=True)  # gigabytes; the logs and the store stay
    (work / "facts.json").write_text(json.dumps(facts, indent=2))
    return facts


def table(facts: dict) -> str:
    store = facts["store"]
    psds1, psds2 = store["psds1"], store["psds2"]
    rows = [
        ("measured", f"{facts['date']}, commit {facts['commit']}, {facts['cores']} cores ({facts['machine']}), "
                     f"no GPU; load average {facts['load']:.1f} at the start"),
        ("command 1 on a fresh clone, in all", clock(facts["install_s"] + facts["study_s"])),
        ("of which venv + `pip install -e .`", f"{clock(facts['install_s'])}; the venv holds {facts['venv']}"),
        ("of which `sedstudy run studies/quickstart.yaml` (data, trials, report)",
         f"{clock(facts['study_s'])}; {store['finished']} of {store['trials']} trials finished, report "
         + ("written" if facts["report"] else "MISSING")),
        (f"PSDS1 / PSDS2 of the baseline cell ({store['baseline']}), mean ± sd over {psds1[2]} seeds",
         f"{psds1[0]:.3f} ± {psds1[1]:.3f} / {psds2[0]:.3f} ± {psds2[1]:.3f}"),
    ]
    if "pytest_s" in facts:
        rows.append(("command 2 on a fresh clone: pip install, then pytest",
                     f"{clock(facts['test_install_s'])}, then {clock(facts['pytest_s'])} ({facts['pytest_summary']})"))
    lines = ["| what | number |", "|---|---|"] + [f"| {what} | {number} |" for what, number in rows]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = REPO / "README.md"
    content = readme.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"{readme}: the markers {BEGIN!r} and {END!r} are missing; put them where the table goes")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", action="store_true", help="also run command 2 (pip install '.[test]', pytest)")
    parser.add_argument("--write-readme", action="store_true", help="rewrite README.md's first-hour table")
    parser.add_argument("--facts", type=Path, help="build the table from a saved facts JSON instead of measuring")
    args = parser.parse_args()
    facts = json.loads(args.facts.read_text()) if args.facts else measure(args.tests)
    print(json.dumps(facts, indent=2), file=sys.stderr)
    text = table(facts)
    print(text)
    if args.write_readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

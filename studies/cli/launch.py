"""What `run` and `resume` share: the launch options, and the launch with its summary, report and UI hint."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from studies.cli.options import add_database_uri, add_tracking_uri, add_workdir
from studies.cli.report import write_report


def add_launch_options(parser: argparse.ArgumentParser, *, address_help: str, storage_help: str) -> None:
    parser.add_argument("--address", help=address_help)
    add_tracking_uri(parser)
    add_database_uri(parser)
    parser.add_argument("--storage", help=storage_help)
    parser.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    add_workdir(parser)


def launch(study_path: Path, workdir: Path, tracking_uri: str | None, address: str | None, storage: str | None, *,
           report: bool) -> int:
    """Run the study's unfinished trials; exit code 1 when any failed."""
    from studies.interrupt import StudyInterrupted
    from studies.launcher import run_study

    try:
        outcome = run_study(study_path, workdir=workdir, tracking_uri=tracking_uri, address=address,
                            storage=storage)
    except StudyInterrupted as stopped:
        print(f"{stopped}: {program()} resume {shlex.quote(str(study_path))} --workdir "
              f"{shlex.quote(str(workdir))}" + (f" --tracking-uri {shlex.quote(tracking_uri)}" if tracking_uri else ""),
              file=sys.stderr, flush=True)
        return stopped.exit_code  # 130 after a stop signal, 75 when the trials waited too long for resources
    tuned = f", after {outcome.sampled} tuning samples" if outcome.sampled else ""
    print(f"study {outcome.study.name}: ran {outcome.ran} trials ({outcome.failed} failed){tuned}, "
          f"{outcome.skipped} were already finished")
    stage = outcome.study.spec.postprocess
    if stage is not None:
        postprocess_study(outcome.study.name, outcome.tracking_uri, tuple(stage.windows))
    if report:
        write_report(outcome.study.name, outcome.tracking_uri, workdir / "reports" / outcome.study.name)
    print(f"browse the runs:  {program()} ui {shlex.quote(outcome.study.name)} "
          f"--tracking-uri {shlex.quote(outcome.tracking_uri)}")
    return 1 if outcome.failed else 0


def postprocess_study(study: str, tracking_uri: str, windows: tuple[int, ...]) -> None:
    """The study's `postprocess:` stage over its finished trials (those done already are skipped)."""
    from studies.postprocess import postprocess
    from studies.postprocess_view import run_line, summary_lines

    print(f"post-processing the finished trials of {study} (median windows tuned on the selection split, piPSDS)",
          flush=True)
    results = postprocess(tracking_uri, study, windows=windows, on_run=lambda result: print(run_line(result),
                                                                                             flush=True))
    for line in summary_lines(results, study, tracking_uri):
        print(line)


def program() -> str:
    """How the user called us (e.g. .venv/bin/sedstudy), so printed commands can be pasted as they are."""
    called = sys.argv[0] if sys.argv else ""
    return shlex.quote(called) if Path(called).name == "sedstudy" else "sedstudy"

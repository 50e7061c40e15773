"""`sedstudy report`; also the report `run` and `resume` write at the end."""
from __future__ import annotations

import argparse
from pathlib import Path

from studies.cli.options import (
    add_database_uri,
    add_study_reference,
    add_tracking_uri,
    add_workdir,
    positive_int,
    tracking_uri,
)
from studies.cli.verb import Verb

CORRECTIONS = ("holm", "bh")  # reports.fetch.analysis_plan.CORRECTIONS; the CLI parses without importing reports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_reference(parser)
    add_tracking_uri(parser, with_help=False)
    add_database_uri(parser)
    parser.add_argument("--out", type=Path, help="output folder (default: <workdir>/reports/<study>)")
    parser.add_argument("--clip-metric", choices=("auto", "psds1", "psds2", "none"), default="auto",
                        help="statistic of the paired bootstrap over evaluation clips, recomputed from the stored "
                             "frame scores (default auto: the analysis plan's metric when it is a PSDS, else psds1; "
                             "none skips it)")
    parser.add_argument("--correction", choices=CORRECTIONS, default=None,
                        help="multiplicity correction of the primary family and the secondary tables: holm "
                             "(family-wise error) or bh (Benjamini-Hochberg, false discovery rate); default: the "
                             "study's analysis plan (holm unless it says otherwise); the report notes a replacement")
    parser.add_argument("--clip-resamples", type=positive_int, default=None,
                        help="resamples of the bootstrap over clips (default 1000)")
    parser.add_argument("--ui-url", help="the MLflow UI the report's run links open (default: the tracking server "
                                         "itself, else http://127.0.0.1:5000, where `sedstudy ui` serves)")
    add_workdir(parser)


def write_report(study: str, tracking_uri: str, out: Path, *, clip_metric: str = "auto",
                 clip_resamples: int | None = None, ui_url: str | None = None, correction: str | None = None) -> None:
    from studies.publish_report import publish_report

    paths = publish_report(study, tracking_uri, out, clip_metric=clip_metric, clip_resamples=clip_resamples,
                           ui_url=ui_url, correction=correction)
    print(f"report: {paths.html}  (also {paths.markdown.name}, LaTeX and CSV tables, figures in {paths.out_dir})")


def report(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    study = study_name(args.study)  # a missing or nameless study YAML fails before MLflow is imported
    store = tracking_uri(args)
    require_store(store)
    write_report(study, store, args.out or args.workdir.resolve() / "reports" / study, clip_metric=args.clip_metric,
                 clip_resamples=args.clip_resamples, ui_url=args.ui_url, correction=args.correction)
    return 0


VERB = Verb("report", help="tables and figure of a study, from the tracking store alone",
            description="Rebuild the study's report (Markdown table, CSV, seaborn figure) from MLflow.",
            add_arguments=add_arguments, handle=report)

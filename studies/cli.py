"""The ``sedstudy`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sys
from pathlib import Path

from sed_core.config.presets import PRESETS
from sed_core.errors import SedStudyError

DEFAULT_WORKDIR = Path("sedstudy_work")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _workdir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                   help="folder for data, the MLflow store, trials and reports; relative paths in configs are "
                        "resolved against it (default: %(default)s)")


def cmd_synth(args: argparse.Namespace) -> int:
    from sed_core.data.synth import generate_dataset
    from studies.launcher import print_progress

    manifest = generate_dataset(args.preset, args.out, seed=args.seed, workers=args.workers,
                                progress=print_progress("clips"))
    print(f"dataset ready: {args.out} (manifest {manifest})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sed_core.config import load_config
    from studies.definition import resolve_paths

    workdir = args.workdir.resolve()
    config = resolve_paths(load_config(args.config, args.set), workdir)  # a bad file or --set fails before torch
    from sed_core.training.reporter import LoggingReporter
    from sed_core.training.trainer import fit

    if not config.output_dir.is_absolute():
        config = config.model_copy(update={"output_dir": workdir / config.output_dir})
    result = fit(config, LoggingReporter(), resume=not args.restart, embedding_cache_dir=workdir / "embedding_cache")
    print(json.dumps({"output_dir": str(result.output_dir), "best_epoch": result.best_epoch, **result.metrics},
                     indent=2))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from studies.definition import load_study

    study = load_study(args.study, workdir=args.workdir.resolve())  # the YAML is checked before torch is imported
    from studies.launcher import check_study

    check_study(study)
    from studies.tuning import describe_tuning

    print(f"{args.study}: valid. study {study.name!r}: {len(study.cells)} cells x {len(study.spec.seeds)} seeds "
          f"= {len(study.trials)} trials; baseline {study.baseline.id}")
    for cell in study.cells:
        print(f"  {cell.id}")
    for line in describe_tuning(study):
        print(line)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from studies.definition import load_study

    workdir = args.workdir.resolve()
    if args.dry_run:
        study = load_study(args.study, workdir=workdir)  # the YAML is checked before torch is imported
        from studies.launcher import check_study

        # a dry run needs nothing downloaded: missing checkpoints are warnings here, a real run refuses them
        print_dry_run(study, check_study(study, require_checkpoints=False))
        return 0
    return _launch(args.study, workdir, args.tracking_uri, args.address, args.storage, report=not args.no_report)


def _launch(study_path: Path, workdir: Path, tracking_uri: str | None, address: str | None, storage: str | None, *,
            report: bool) -> int:
    from studies.launcher import run_study

    outcome = run_study(study_path, workdir=workdir, tracking_uri=tracking_uri, address=address, storage=storage)
    tuned = f", after {outcome.sampled} tuning samples" if outcome.sampled else ""
    print(f"study {outcome.study.name}: ran {outcome.ran} trials ({outcome.failed} failed){tuned}, "
          f"{outcome.skipped} were already finished")
    if report:
        _report(outcome.study.name, outcome.tracking_uri, workdir / "reports" / outcome.study.name)
    print(f"browse the runs:  {_program()} ui {shlex.quote(outcome.study.name)} "
          f"--tracking-uri {shlex.quote(outcome.tracking_uri)}")
    return 1 if outcome.failed else 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish an interrupted study: the same launch, from its YAML or from what its parent run recorded."""
    from studies.study_ref import study_name

    study_name(args.study)  # a missing or nameless study YAML fails before MLflow is imported
    from studies.resume import resume_plan

    plan = resume_plan(args.study, workdir=args.workdir.resolve(), tracking_uri=args.tracking_uri)
    print(f"resuming study {plan.study} from {plan.study_path} (workdir {plan.workdir})", flush=True)
    return _launch(plan.study_path, plan.workdir, plan.tracking_uri, args.address or plan.address,
                   args.storage or plan.storage, report=not args.no_report)


def cmd_status(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    study = study_name(args.study)  # a missing or nameless study YAML fails before MLflow is imported
    from studies.status import format_status, study_status
    from studies.tracking import default_tracking_uri

    tracking_uri = args.tracking_uri or default_tracking_uri(args.workdir.resolve())
    require_store(tracking_uri)
    status = study_status(tracking_uri, study)
    if args.json:
        print(json.dumps({"study": status.study, "status": status.parent_status, "totals": status.totals,
                          "best": status.best, "cells": [vars(c) for c in status.cells], "tuning": status.tuning,
                          "time_left_s": status.time_left_s},
                         indent=2))
    else:
        print(format_status(status))
    return 0


def print_dry_run(study, warnings: list[str] = ()) -> None:
    from studies.estimate import estimate_study

    epochs = sum(t.config.training.epochs for t in study.trials)
    print(f"study {study.name} ({study.spec.design.type}): {len(study.cells)} cells x {len(study.spec.seeds)} "
          f"seeds = {len(study.trials)} trials, {epochs} epochs in all; resources per trial "
          f"{study.spec.resources.model_dump(exclude_none=True)}")
    for line in warnings:
        print(f"warning: {line} (a dry run goes on; `sedstudy run` refuses this before any compute)")
    cost = estimate_study(study)
    for line in cost.warnings:
        print(f"warning: {line}")
    print(f"{'steps/trial':>12} {'TFLOP/step':>11} {'TFLOP/trial':>12} {'GPU-h/trial':>12} {'bound':>8}  cell (trials)")
    for row in cost.rows:
        steps = "?" if row["steps_per_trial"] is None else f"{row['steps_per_trial']:,}"
        per_trial = "?" if row["tflop_per_trial"] is None else f"{row['tflop_per_trial']:.3g}"
        hours = "?" if row["hours_per_trial"] is None else f"{row['hours_per_trial']:.3g}"
        bound = row["bound"] or "?"
        print(f"{steps:>12} {row['tflop_per_step']:>11.3g} {per_trial:>12} {hours:>12} {bound:>8}  {row['cell']} "
              f"({row['trials']})")
    if cost.gpu_hours is None:
        print("estimate: steps unknown until the data is in place (or set training.steps_per_epoch)")
    else:
        print(f"estimate: {cost.total_tflop:.3g} TFLOP, {cost.gpu_hours:.3g} GPU-hours; steps from "
              f"{' and '.join(cost.size_sources) or 'training.steps_per_epoch'}; FLOPs counted on "
              f"{cost.distinct_models} distinct model(s)")
        for line in cost.assumptions:
            print(f"  {line}")
        if not study.spec.resources.gpu:
            print("  this study's trials run on CPUs (resources.gpu: 0): the hours are what they would take on one "
                  "GPU each, not their CPU time")
    if study.spec.tuning is not None:  # studies.tuning imports MLflow
        from studies.tuning import describe_tuning

        for line in describe_tuning(study):
            print(line)
    if cost.tuning_tflop is not None:
        if cost.tuning_gpu_hours is None:
            print("tuning budget: steps unknown until the data is in place (or set training.steps_per_epoch)")
        else:
            print(f"tuning budget: at most {cost.tuning_tflop:.3g} TFLOP = {cost.tuning_gpu_hours:.3g} GPU-hours "
                  f"(num_samples x all epochs at each tuned cell's own config; ASHA usually stops most samples "
                  f"well before that); with the seed trials at most {cost.total_gpu_hours:.3g} GPU-hours")
    tuned = {c.id for c in study.tuned_cells}
    for trial in study.trials:
        note = "  (tuned: its id follows from the best values)" if trial.cell.id in tuned else ""
        print(f"  {trial.trial_id}  {trial.cell.id}  seed={trial.seed}{note}")


def _program() -> str:
    """How the user called us (e.g. .venv/bin/sedstudy), so printed commands can be pasted as they are."""
    called = sys.argv[0] if sys.argv else ""
    return shlex.quote(called) if Path(called).name == "sedstudy" else "sedstudy"


def _report(study: str, tracking_uri: str, out: Path, *, clip_metric: str = "auto",
            clip_resamples: int | None = None, ui_url: str | None = None) -> None:
    from reports.build import CLIP_RESAMPLES, build_report
    from studies.tracking import log_report

    paths = build_report(tracking_uri, study, out, clip_statistic=None if clip_metric == "none" else clip_metric,
                         clip_resamples=clip_resamples or CLIP_RESAMPLES, ui_base=ui_url)
    log_report(tracking_uri, study, [paths.html, paths.markdown])
    print(f"report: {paths.html}  (also {paths.markdown.name}, LaTeX and CSV tables, figures in {paths.out_dir})")


def cmd_report(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    study = study_name(args.study)
    from studies.tracking import default_tracking_uri

    workdir = args.workdir.resolve()
    tracking_uri = args.tracking_uri or default_tracking_uri(workdir)
    require_store(tracking_uri)
    _report(study, tracking_uri, args.out or workdir / "reports" / study, clip_metric=args.clip_metric,
            clip_resamples=args.clip_resamples, ui_url=args.ui_url)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from studies.study_ref import study_name
    from studies.tracking import default_tracking_uri, open_client
    from studies.ui import plan_ui

    tracking_uri = args.tracking_uri or default_tracking_uri(args.workdir.resolve())
    client = open_client(tracking_uri)  # a new SQLite store is created under its lock, not by the UI beside a study
    study = None if args.study is None else study_name(args.study)
    plan = plan_ui(client, tracking_uri, host=args.host, port=args.port, study=study)
    if plan.note:
        print(plan.note, flush=True)
    print(f"MLflow UI on {plan.url}  ({tracking_uri}); open {plan.landing}", flush=True)
    os.execv(sys.executable, plan.command)
    return 0


def cmd_model_info(args: argparse.Namespace) -> int:
    from sed_core.config import load_config
    from sed_core.config.loading import config_with_overrides

    if args.config:
        config = load_config(args.config, args.set)
    else:
        config = config_with_overrides({"preset": args.preset}, args.set, source=f"--preset {args.preset}")
    from sed_core.models.build import build_model
    from sed_core.models.summary import model_summary

    info = {"preset": config.preset, **model_summary(build_model(config, device="meta"), config)}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key == "parts":
            print(f"{'part':<10} {'parameters':>12} {'trainable@1':>12} {'trainable@end':>14} {'frozen@end':>11}")
            for part, c in value.items():
                print(f"{part:<10} {c['parameters']:>12,} {c['trainable_first_epoch']:>12,} "
                      f"{c['trainable_last_epoch']:>14,} {c['frozen_last_epoch']:>11,}")
        else:
            print(f"{key}: {value}")
    return 0


def cmd_prepare_desed(args: argparse.Namespace) -> int:
    from studies.launcher import print_progress
    from studies.prepare_desed import format_report, prepare_desed

    report = prepare_desed(args.dir, args.out, sample_rate=args.sample_rate, workers=args.workers,
                           dry_run=args.dry_run, splits=args.splits, drop_missing=args.drop_missing,
                           progress=None if args.dry_run else print_progress("files"))
    print(format_report(report))
    return 0 if report.complete else 1  # clips without readable audio: the split does not load as written


def cmd_evaluate(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    target = study_name(args.target)
    from studies.reevaluate import RunEval, reevaluate
    from studies.tracking import default_tracking_uri

    tracking_uri = args.tracking_uri or default_tracking_uri(args.workdir.resolve())
    require_store(tracking_uri)

    def show(result: RunEval) -> None:
        values = " ".join(f"{name}={value:.4f}" for name, value in (("psds1", result.psds1), ("psds2", result.psds2))
                          if value is not None)
        note = "  (already evaluated; --force to redo)" if result.skipped else ""
        print(f"{result.cell} seed={result.seed}  {args.split}: {values}  [{result.run_id}]{note}", flush=True)

    results = reevaluate(tracking_uri, target, args.split, data_root=args.data_root, force=args.force,
                         on_run=show)
    done = [r for r in results if not r.skipped]
    psds1 = [r.psds1 for r in done if r.psds1 is not None]
    mean = f"; mean psds1 {sum(psds1) / len(psds1):.4f}" if psds1 else ""
    print(f"evaluated {len(done)} run(s) of {target} on {args.split}, skipped {len(results) - len(done)} "
          f"already evaluated{mean}; metrics eval/{args.split}/* in {tracking_uri}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from sed_core.inference import predict_files

    prediction = predict_files(args.checkpoint, args.audio, args.out, config_path=args.config,
                               threshold=args.threshold, model=args.model)
    counts = prediction.detections["filename"].value_counts()
    for name, notes in prediction.notes.items():
        print(f"{name}: {int(counts.get(name, 0))} events; {'; '.join(notes)}")
    print(f"detections ({prediction.model}, threshold {prediction.threshold:g}): {prediction.detections_path}; "
          f"frame scores: {prediction.scores_dir}/")
    return 0


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text!r}")
    return value


def version_text() -> str:
    """``sedstudy 0.1.0 (Python 3.11.9)``: the installed package's version, without importing torch or Ray."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("sedstudy")
    except PackageNotFoundError:
        package = "unknown (not installed; run `pip install -e .`)"
    return f"sedstudy {package} (Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sedstudy", description=__doc__.strip() + " Ablation studies of "
                                     "semi-supervised sound event detection on Ray Tune and MLflow.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a deterministic DESED-shaped synthetic dataset",
                       description="Write a DESED-shaped synthetic dataset (audio, TSVs, manifest). The same "
                                   "preset and seed give byte-identical files.")
    p.add_argument("--preset", choices=["tiny", "demo", "full"], default="demo")
    p.add_argument("--out", type=Path, required=True, help="dataset root to create")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("train", help="train one run from an experiment YAML, without Ray",
                       description="Train one mean-teacher run. The YAML may name a preset (paper, quick, tiny) "
                                   "and override any field; --set overrides dotted fields.")
    p.add_argument("config", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a dotted field, e.g. --set training.epochs=5 (repeatable)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in output_dir")
    _workdir_arg(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("validate", help="check a study YAML and every cell's config, without compute",
                       description="Validate the study file against the study and experiment schemas and build "
                                   "every cell's model on the meta device (no weights, no data).")
    p.add_argument("study", type=Path)
    _workdir_arg(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a study on Ray Tune, record it in MLflow, write its report",
                       description="Run every unfinished trial of a study (cells x seeds) as Ray Tune trials. "
                                   "Trials already FINISHED in the tracking store are not run again.")
    p.add_argument("study", type=Path)
    p.add_argument("--dry-run", action="store_true", help="print the cells and trials, run nothing")
    p.add_argument("--address", help="join a running Ray cluster (default: start Ray in-process)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite:///<workdir>/mlflow.db)")
    p.add_argument("--storage", help="shared storage path for Ray results and checkpoints")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    _workdir_arg(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="finish an interrupted study: finished trials are kept, the rest run",
                       description="Resume a study by name (its YAML and launch settings are read back from its "
                                   "parent run) or by YAML path. Finished trials are never rerun; interrupted "
                                   "trials continue from their last epoch checkpoint and re-attach to their "
                                   "MLflow runs.")
    p.add_argument("study", help="study name, or the study YAML")
    p.add_argument("--address", help="join a running Ray cluster (default: as launched)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite:///<workdir>/mlflow.db)")
    p.add_argument("--storage", help="shared storage path (default: as launched)")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    _workdir_arg(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("status", help="cells finished / running / failed / not started, and the best so far",
                       description="Print a study's progress from the tracking store: per cell the trials "
                                   "finished, running, failed and not started, and the best objective so far.")
    p.add_argument("study", help="study name, or the study YAML")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite:///<workdir>/mlflow.db)")
    p.add_argument("--json", action="store_true")
    _workdir_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="tables and figure of a study, from the tracking store alone",
                       description="Rebuild the study's report (Markdown table, CSV, seaborn figure) from MLflow.")
    p.add_argument("study", help="study name, or the study YAML")
    p.add_argument("--tracking-uri")
    p.add_argument("--out", type=Path, help="output folder (default: <workdir>/reports/<study>)")
    p.add_argument("--clip-metric", choices=("auto", "psds1", "psds2", "none"), default="auto",
                   help="statistic of the paired bootstrap over evaluation clips, recomputed from the stored frame "
                        "scores (default auto: the objective when it is a PSDS, else psds1; none skips it)")
    p.add_argument("--clip-resamples", type=_positive_int, default=None,
                   help="resamples of the bootstrap over clips (default 1000)")
    p.add_argument("--ui-url", help="the MLflow UI the report's run links open (default: the tracking server "
                                    "itself, else http://127.0.0.1:5000, where `sedstudy ui` serves)")
    _workdir_arg(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("ui", help="open the MLflow UI on the study's tracking store (127.0.0.1)",
                       description="Start the MLflow UI on the tracking store, bound to 127.0.0.1 by default.")
    p.add_argument("study", nargs="?", help="print the link to this study's runs table (name or YAML)")
    p.add_argument("--tracking-uri")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000, help="default 5000 (another free port when it is taken)")
    _workdir_arg(p)
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("model-info", help="parameter counts per part and the frame grid of a config",
                       description="Build the model of a config (or a preset) and print its parameter counts "
                                   "and output frame grid.")
    p.add_argument("config", type=Path, nargs="?")
    p.add_argument("--preset", default="paper", choices=sorted(PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_model_info)

    p = sub.add_parser("prepare-desed", help="check a real DESED folder and resample it to 16 kHz mono",
                       description="Check a DESED download (DESED_task folder names, 44.1 kHz or *_16k): validate "
                                   "each split's TSV, match TSV rows with audio files, read sample rates, channels "
                                   "and durations, then write 16 kHz mono 16-bit WAVs and the TSVs in the layout "
                                   "sedstudy reads. Correct existing outputs are kept; re-running changes nothing.")
    p.add_argument("dir", type=Path, help="DESED dataset root (holds audio/ and metadata/)")
    p.add_argument("--out", type=Path,
                   help="dataset root to write (default: DIR itself, *_16k folders beside the downloaded ones)")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--splits", nargs="+", metavar="SPLIT",
                   help="prepare only these splits, each required (default: all; strong_train is optional)")
    p.add_argument("--drop-missing", action="store_true",
                   help="write TSVs without clips that have no readable audio (needs --out)")
    p.add_argument("--dry-run", action="store_true", help="report what would be done, write nothing")
    p.set_defaults(func=cmd_prepare_desed)

    p = sub.add_parser("evaluate", help="rescore stored checkpoints on another split, logged to the same runs",
                       description="Rescore the best checkpoint of every finished trial of a study (or of one run) "
                                   "on a split with strong labels, without retraining. Logs eval/<split>/* metrics, "
                                   "the split's frame scores, PSD-ROC curves and labels, and the tag "
                                   "sedstudy.eval.<split> to the same MLflow runs; their status is kept. Runs that "
                                   "already have the split's metrics are skipped unless --force.")
    p.add_argument("target", metavar="RUN_OR_STUDY", help="study name, study YAML or MLflow run id")
    p.add_argument("--split", required=True, help="split with strong labels, e.g. validation, synthetic_validation")
    p.add_argument("--data-root", type=Path,
                   help="DESED-layout dataset that holds the split (default: each run's own data.root)")
    p.add_argument("--force", action="store_true", help="re-evaluate runs that already have the split's metrics")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite:///<workdir>/mlflow.db)")
    _workdir_arg(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="detections (DESED TSV) and frame scores for new audio files",
                       description="Detect sound events in audio files with a trained checkpoint. Files are "
                                   "downmixed to mono and resampled to the config's rate; recordings longer than a "
                                   "clip are scored in clip-length windows on one frame grid, shorter ones "
                                   "zero-padded, and scores end at each file's true duration. Writes "
                                   "detections.tsv (filename, onset, offset, event_label) and "
                                   "scores/<audio_id>.tsv (sed_scores_eval format).")
    p.add_argument("checkpoint", type=Path, help="a best_model.pt, or the trial folder that holds it")
    p.add_argument("audio", type=Path, nargs="+", metavar="AUDIO", help="WAV/FLAC files")
    p.add_argument("--config", type=Path, help="experiment YAML/JSON of the checkpoint (default: config.json "
                                               "beside the checkpoint or one folder up)")
    p.add_argument("--out", type=Path, default=Path("predictions"), help="output folder (default: %(default)s)")
    p.add_argument("--threshold", type=_threshold,
                   help="decision threshold of the detections (default: the config's evaluation.threshold)")
    p.add_argument("--model", choices=("student", "teacher"),
                   help="which weights to use (default: the config's evaluation.report_model)")
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    from studies.quiet import quiet_third_party

    quiet_third_party()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("matplotlib", "PIL", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except SedStudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

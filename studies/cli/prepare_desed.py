"""`sedstudy prepare-desed`."""
from __future__ import annotations

import argparse
from pathlib import Path

from studies.cli.options import add_workers
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, help="DESED dataset root (holds audio/ and metadata/)")
    parser.add_argument("--out", type=Path,
                        help="dataset root to write (default: DIR itself, *_16k folders beside the downloaded ones)")
    parser.add_argument("--sample-rate", type=int, default=16000)
    add_workers(parser)
    parser.add_argument("--splits", nargs="+", metavar="SPLIT",
                        help="prepare only these splits, each required (default: all; strong_train is optional)")
    parser.add_argument("--drop-missing", action="store_true",
                        help="write TSVs without clips that have no readable audio (needs --out)")
    parser.add_argument("--dry-run", action="store_true", help="report what would be done, write nothing")


def prepare(args: argparse.Namespace) -> int:
    from studies.launcher import print_progress
    from studies.prepare_desed import format_report, prepare_desed

    report = prepare_desed(args.dir, args.out, sample_rate=args.sample_rate, workers=args.workers,
                           dry_run=args.dry_run, splits=args.splits, drop_missing=args.drop_missing,
                           progress=None if args.dry_run else print_progress("files"))
    print(format_report(report))
    return 0 if report.complete else 1  # clips without readable audio: the split does not load as written


VERB = Verb("prepare-desed", help="check a real DESED folder and resample it to 16 kHz mono",
            description="Check a DESED download (DESED_task folder names, 44.1 kHz or *_16k): validate each split's "
                        "TSV, match TSV rows with audio files, read sample rates, channels and durations, then write "
                        "16 kHz mono 16-bit WAVs and the TSVs in the layout sedstudy reads. Correct existing outputs "
                        "are kept; re-running changes nothing.",
            add_arguments=add_arguments, handle=prepare)

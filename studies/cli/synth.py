"""`sedstudy synth`."""
from __future__ import annotations

import argparse
from pathlib import Path

from studies.cli.options import add_workers
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=["tiny", "demo", "full"], default="demo")
    parser.add_argument("--out", type=Path, required=True, help="dataset root to create")
    parser.add_argument("--seed", type=int, default=0)
    add_workers(parser)


def synth(args: argparse.Namespace) -> int:
    from sed_core.data.synth import generate_dataset
    from studies.launcher import print_progress

    manifest = generate_dataset(args.preset, args.out, seed=args.seed, workers=args.workers,
                                progress=print_progress("clips"))
    print(f"dataset ready: {args.out} (manifest {manifest})")
    return 0


VERB = Verb("synth", help="write a deterministic DESED-shaped synthetic dataset",
            description="Write a DESED-shaped synthetic dataset (audio, TSVs, manifest). The same preset and seed "
                        "give byte-identical files.",
            add_arguments=add_arguments, handle=synth)

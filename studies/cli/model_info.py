"""`sedstudy model-info`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sed_core.config.presets import PRESETS
from studies.cli.options import add_overrides
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, nargs="?")
    parser.add_argument("--preset", choices=sorted(PRESETS))  # with CONFIG: its preset replaced; alone: paper
    add_overrides(parser, with_help=False)
    parser.add_argument("--json", action="store_true")


def show_model_info(args: argparse.Namespace) -> int:
    from sed_core.config.loading import config_with_overrides, read_yaml_mapping

    if args.config:  # the file laid over --preset instead of its own: it must still make sense there
        raw = read_yaml_mapping(args.config)
        source = str(args.config)
        if args.preset:
            raw, source = {**raw, "preset": args.preset}, f"{args.config} with --preset {args.preset}"
        config = config_with_overrides(raw, args.set, source=source)
    else:
        preset = args.preset or "paper"
        config = config_with_overrides({"preset": preset}, args.set, source=f"--preset {preset}")
    from studies.model_info import model_info, model_info_lines

    info = model_info(config)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for line in model_info_lines(info):
        print(line)
    return 0


VERB = Verb("model-info", help="parameter counts per part and the frame grid of a config",
            description="Build the model of a config (or a preset) and print its parameter counts and output frame "
                        "grid.",
            add_arguments=add_arguments, handle=show_model_info)

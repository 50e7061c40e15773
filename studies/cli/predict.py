"""`sedstudy predict`."""
from __future__ import annotations

import argparse
from pathlib import Path

from studies.cli.options import threshold
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a best_model.pt, or the trial folder that holds it")
    parser.add_argument("audio", type=Path, nargs="+", metavar="AUDIO", help="WAV/FLAC files")
    parser.add_argument("--config", type=Path, help="experiment YAML/JSON of the checkpoint (default: config.json "
                                                    "beside the checkpoint or one folder up)")
    parser.add_argument("--out", type=Path, default=Path("predictions"), help="output folder (default: %(default)s)")
    parser.add_argument("--threshold", type=threshold,
                        help="decision threshold of the detections (default: the config's evaluation.threshold)")
    parser.add_argument("--model", choices=("student", "teacher"),
                        help="which weights to use (default: the config's evaluation.report_model)")


def predict(args: argparse.Namespace) -> int:
    from sed_core.inference import predict_files

    prediction = predict_files(args.checkpoint, args.audio, args.out, config_path=args.config,
                               threshold=args.threshold, model=args.model)
    counts = prediction.detections["filename"].value_counts()
    for name, notes in prediction.notes.items():
        print(f"{name}: {int(counts.get(name, 0))} events; {'; '.join(notes)}")
    print(f"detections ({prediction.model}, threshold {prediction.threshold:g}): {prediction.detections_path}; "
          f"frame scores: {prediction.scores_dir}/")
    return 0


VERB = Verb("predict", help="detections (DESED TSV) and frame scores for new audio files",
            description="Detect sound events in audio files with a trained checkpoint. Files are downmixed to mono "
                        "and resampled to the config's rate; recordings longer than a clip are scored in clip-length "
                        "windows on one frame grid, shorter ones zero-padded, and scores end at each file's true "
                        "duration. Writes detections.tsv (filename, onset, offset, event_label) and "
                        "scores/<audio_id>.tsv (sed_scores_eval format).",
            add_arguments=add_arguments, handle=predict)

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sed_core.config import config_from_dict
from sed_core.errors import CheckpointError, DataError
from sed_core.inference import (
    find_config,
    open_eval_split,
    predict_files,
    read_audio,
    read_checkpoint,
    rescore,
    window_starts,
)
from sed_core.training.trainer import BEST_FILE, FitResult, fit


def tiny_config(root: Path, out: Path, **model):
    return config_from_dict({"preset": "tiny", "data": {"root": str(root)}, "output_dir": str(out),
                             "model": model, "training": {"epochs": 2, "steps_per_epoch": 2}})


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, FitResult]:
    config = tiny_config(tiny_dataset, tmp_path_factory.mktemp("run") / "trial")
    return config, fit(config)


@pytest.fixture(scope="module")
def rescored(trained, tmp_path_factory: pytest.TempPathFactory):
    config, result = trained
    dataset = open_eval_split(config, config.evaluation.test_split)
    return rescore(config, read_checkpoint(result.output_dir), dataset, tmp_path_factory.mktemp("rescored"))


def test_rescoring_the_checkpoint_reproduces_the_trainers_final_metrics_exactly(trained, rescored):
    config, result = trained
    final = {k: v for k, v in result.metrics.items() if k != "best_epoch"}
    assert rescored.metrics == final
    assert rescored.checkpoint_epoch == result.best_epoch == int(result.metrics["best_epoch"])
    split = config.evaluation.test_split
    assert (rescored.split, rescored.report_model) == (split, "student")
    stored = sorted(p.name for p in (result.output_dir / "scores" / split).glob("*.tsv"))
    again = sorted(p.name for p in (rescored.out_dir / "scores" / split).glob("*.tsv"))
    assert again == stored and len(again) == rescored.n_clips == 16
    for name in stored[:3]:
        assert (rescored.out_dir / "scores" / split / name).read_bytes() == \
            (result.output_dir / "scores" / split / name).read_bytes()
    assert {p.name for p in (rescored.out_dir / "psd_roc" / split).iterdir()} == {"psds1.tsv", "psds2.tsv"}
    assert {p.name for p in (rescored.out_dir / "reference" / split).iterdir()} == {"ground_truth.tsv",
                                                                                   "durations.tsv"}


def test_another_split_and_its_errors(trained, tmp_path: Path):
    config, result = trained
    dataset = open_eval_split(config, "synthetic_validation")
    other = rescore(config, read_checkpoint(result.output_dir / BEST_FILE), dataset, tmp_path)
    assert other.n_clips == len(dataset) and 0.0 <= other.metrics["psds1"] <= 1.0
    # the selection split's score of the best epoch, as the trainer computed it while training
    selected = result.history[result.best_epoch]["val/synthetic_validation/intersection_f1"]
    assert other.metrics["intersection_f1"] == selected
    with pytest.raises(DataError, match="'weak_train' has weak .* choose one of synthetic_train, .*validation"):
        open_eval_split(config, "weak_train")
    with pytest.raises(DataError, match=r"unknown split 'validaton' \(did you mean 'validation'\?\); splits with"):
        open_eval_split(config, "validaton")
    with pytest.raises(DataError, match="audio folder of split 'validation' not found"):
        open_eval_split(config, "validation", data_root=tmp_path / "nowhere")


def test_predicting_a_clip_of_clip_length_gives_the_evaluation_scores(trained, rescored, tiny_dataset, tmp_path):
    config, result = trained
    wav = tiny_dataset / "audio/validation/validation_16k/validation_000000.wav"
    pred = predict_files(result.output_dir, [wav], tmp_path, config=config)
    expected = rescored.out_dir / "scores/validation/validation_000000.tsv"
    got = pd.read_csv(pred.scores_dir / "validation_000000.tsv", sep="\t")
    want = pd.read_csv(expected, sep="\t")
    assert list(got.columns) == list(want.columns) and got.shape == want.shape
    # equal up to float32 rounding: a batch of one clip takes other BLAS paths than the evaluation's batches
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-5)
    assert pred.notes == {"validation_000000.wav": ["4.000 s"]}
    detections = pd.read_csv(pred.detections_path, sep="\t")
    assert list(detections.columns) == ["filename", "onset", "offset", "event_label"]
    assert len(detections) == len(pred.detections)
    # the threshold acts: a lower one never finds fewer active frames than a higher one
    low = predict_files(result.output_dir, [wav], tmp_path / "low", config=config, threshold=0.05)
    high = predict_files(result.output_dir, [wav], tmp_path / "high", config=config, threshold=0.95)
    spans = [float((d.detections["offset"] - d.detections["onset"]).sum()) for d in (low, high)]
    assert spans[0] > spans[1]


def test_predict_resamples_downmixes_and_scores_long_and_short_recordings(trained, tiny_dataset, tmp_path):
    config, result = trained
    mono, rate = sf.read(tiny_dataset / "audio/validation/validation_16k/validation_000001.wav", dtype="float32")
    long = np.tile(mono, 3)[: int(2.5 * len(mono))]  # 10 s at 16 kHz
    stereo_44k = np.stack([np.interp(np.arange(0, len(long), 16000 / 44100), np.arange(len(long)), long)] * 2, 1)
    sf.write(tmp_path / "long_stereo.wav", stereo_44k, 44100)
    sf.write(tmp_path / "short.flac", mono[: int(1.5 * rate)], rate)
    # the checkpoint found from a trial folder, the config from a config.json one folder up (MLflow's layout)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / BEST_FILE).write_bytes((result.output_dir / BEST_FILE).read_bytes())
    (tmp_path / "run" / "config.json").write_text(config.model_dump_json())
    pred = predict_files(tmp_path / "run/checkpoints", [tmp_path / "long_stereo.wav", tmp_path / "short.flac"],
                         tmp_path / "out")
    assert pred.notes["long_stereo.wav"] == ["downmixed 2 channels to mono", "resampled 44100 Hz -> 16000 Hz",
                                             "10.000 s, longer than the 4 s clips: scored in 3 windows"]
    assert pred.notes["short.flac"] == ["1.500 s, shorter than the 4 s clips: zero-padded, scores end at 1.500 s"]
    long_scores = pd.read_csv(pred.scores_dir / "long_stereo.tsv", sep="\t")
    short_scores = pd.read_csv(pred.scores_dir / "short.tsv", sep="\t")
    hop = 0.064
    assert len(long_scores) == int(np.ceil(10.0 / hop)) and long_scores["offset"].iloc[-1] == pytest.approx(10.0)
    assert np.allclose(long_scores["onset"], np.arange(len(long_scores)) * hop)  # one grid across the windows
    assert len(short_scores) == int(np.ceil(1.5 / hop)) and short_scores["offset"].iloc[-1] == pytest.approx(1.5)
    assert set(pred.detections["filename"]) <= {"long_stereo.wav", "short.flac"}
    assert (pred.detections["offset"] <= 10.0 + 1e-9).all() and (pred.detections["onset"] >= 0).all()


@pytest.mark.parametrize("n_samples", [1, 63999, 64000, 64001, 63488 * 2, 63488 * 2 + 1, 160000, 1_000_003])
def test_windows_cover_every_frame_once_on_one_grid(n_samples: int):
    clip, frame, per_window = 64000, 1024, 62  # the tiny preset: 4 s at 16 kHz, 62 frames of 64 ms
    starts = window_starts(n_samples, clip_samples=clip, frame_samples=frame, window_frames=per_window)
    assert starts[0] == 0 and all(s % frame == 0 for s in starts) and starts == sorted(set(starts))
    if n_samples <= clip:
        assert starts == [0]
        return
    assert all(b - a == per_window * frame for a, b in itertools.pairwise(starts[:-1]))
    covered = (len(starts) - 1) * per_window * frame
    assert starts[-1] <= covered  # the last window leaves no gap
    assert starts[-1] + per_window * frame >= n_samples  # its frames reach the end
    assert starts[-1] + clip - n_samples < 2 * frame + clip - per_window * frame  # and it is barely padded


def test_unreadable_audio_and_a_checkpoint_of_another_config_are_refused(trained, tmp_path: Path):
    config, result = trained
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32), 16000)
    for name in ("corrupt.wav", "empty.wav"):
        with pytest.raises(DataError, match=f"{tmp_path / name}: cannot decode the audio"):
            read_audio(tmp_path / name, 16000)
    with pytest.raises(DataError, match="silent.wav: the file holds no samples"):
        read_audio(tmp_path / "silent.wav", 16000)
    with pytest.raises(DataError, match="corrupt.wav: cannot decode"):  # refused before any scoring
        predict_files(result.output_dir, [tmp_path / "corrupt.wav"], tmp_path / "out", config=config)
    assert not (tmp_path / "out").exists()
    wider = tiny_config(config.data.root, tmp_path / "other", cnn={"channels": [8, 16, 32]})
    with pytest.raises(CheckpointError, match=r"student weights do not fit the model of the config \(shape"):
        predict_files(result.output_dir, [tmp_path / "silent.wav"], tmp_path / "out", config=wider)
    with pytest.raises(CheckpointError, match="no config.json beside it or one folder up; pass --config"):
        find_config(result.output_dir)
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        read_checkpoint(tmp_path)


def test_nan_audio_and_a_recording_shorter_than_a_frame_are_refused(trained, tmp_path: Path):
    config, result = trained
    wave = np.full(16000, 0.1, dtype=np.float32)
    wave[8000:8010] = np.nan
    sf.write(tmp_path / "nan.wav", wave, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan.wav: 10 samples are NaN or infinite \(the first at 0.500 s\)"):
        read_audio(tmp_path / "nan.wav", 16000)
    sf.write(tmp_path / "one.wav", np.full(1, 0.5, dtype=np.float32), 16000)
    with pytest.raises(DataError, match=r"one.wav: shorter than one output frame of the model \(\d+ samples"):
        predict_files(result.output_dir, [tmp_path / "one.wav"], tmp_path / "out", config=config)
    assert not (tmp_path / "out").exists()

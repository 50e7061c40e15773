"""``sedstudy prepare-desed``'s account of a run; what the run finds and writes is tested in
tests/sed_core/data/test_desed_prepare.py."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sed_core.data.desed_prepare import PrepareReport, SplitReport
from studies.prepare_desed import format_report

SOURCE, OUT = Path("/data/DESED"), Path("/data/DESED_16k")
WEAK_MISSING = "Ymissing_0.000_10.000.wav"
WEAK_NOT_IN_COPY = tuple(f"Y{i:04d}_0.000_10.000.wav" for i in range(1575))  # of the 1,578 official weak clips


def weak_split(**changes: object) -> SplitReport:
    """weak_train of a copy with 3 of its 4 TSV clips, one extra file, stereo and 48 kHz files, all resampled."""
    split = SplitReport(
        name="weak_train", tsv=SOURCE / "metadata/train/weak.tsv", audio_dir=SOURCE / "audio/train/weak",
        out_audio_dir=OUT / "audio/train/weak_16k", clips=4, found=3, missing=(WEAK_MISSING,),
        extra=("Yextra_0.000_10.000.wav",), unreadable=(), sample_rates={44100: 2, 48000: 1},
        channels={1: 2, 2: 1}, seconds=(0.5, 0.5, 1.5), resampled=3, copied=0, skipped=0,
        not_in_copy=WEAK_NOT_IN_COPY,
    )
    return dataclasses.replace(split, **changes)


def report(*splits: SplitReport, **changes: object) -> PrepareReport:
    written = (OUT / "metadata/train/weak.tsv",)
    prepared = PrepareReport(source=SOURCE, out=OUT, sample_rate=16000, dry_run=False, drop_missing=False,
                             splits=splits, absent={}, tsv_written=written, tsv_unchanged=(), partials_removed=0)
    return dataclasses.replace(prepared, **changes)


def test_the_account_says_what_was_found_and_the_fixes() -> None:
    absent = {"strong_train": "metadata /data/DESED/metadata/train/audioset_strong.tsv (not found)"}
    text = format_report(report(weak_split(), absent=absent))
    assert "weak_train: metadata/train/weak.tsv" in text and "audio audio/train/weak -> audio/train/weak_16k" in text
    assert "clips in TSV 4, audio found 3, missing 1, extra 1, unreadable 0" in text
    assert "sample rates 44100 Hz x2, 48000 Hz x1; channels mono x2, stereo x1" in text
    assert f"missing: {WEAK_MISSING}" in text and "extra (not in the TSV, left out): Yextra" in text
    assert "resampled 3, copied 0, skipped 0" in text
    assert "weak_train: 1 of 4 clip(s) have no readable audio" in text and "--drop-missing" in text
    assert "strong_train: not found (optional)" in text and "data.batch.strong_train=0" in text
    assert "TSVs: 1 written, 0 already in place" in text and "ready:" not in text
    # the split's coverage of DESED's official list, and the first of the clips it lacks
    assert "  coverage 3 / 1,578 clips of the official DESED list (1,575 missing" in text
    assert f"  not in this copy: {WEAK_NOT_IN_COPY[0]}, " in text and "(1570 more)" in text
    assert "listed in missing_official_clips.tsv" in text


def test_a_dry_run_and_a_rerun_say_what_would_be_and_was_done() -> None:
    dry = format_report(report(weak_split(), dry_run=True))
    assert "dry run: nothing written" in dry and "to resample 3, to copy 0, already done 0" in dry
    assert "would be listed in missing_official_clips.tsv" in dry and "TSVs: 1 to write" in dry
    rerun = format_report(report(weak_split(resampled=0, skipped=3), tsv_written=(), partials_removed=2))
    assert "resampled 0, copied 0, skipped 3" in rerun and "removed 2 partial file(s)" in rerun


def test_dropped_clips_leave_a_copy_ready_to_train_on() -> None:
    text = format_report(report(weak_split(), drop_missing=True))
    assert "1 clip(s) without readable audio left out of the written TSV" in text
    assert f"ready: train on it with data.root={OUT}" in text and "warning:" not in text


def test_the_command_fails_while_clips_lack_audio_unless_they_are_dropped(
        desed_metadata_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studies.cli import main

    header, *rows = (desed_metadata_dir / "validation/validation.tsv").read_text(encoding="utf-8").splitlines()
    clips = list(dict.fromkeys(row.split("\t")[0] for row in rows))[:2]
    root = tmp_path / "DESED"
    (root / "metadata/validation").mkdir(parents=True)
    (root / "metadata/validation/validation.tsv").write_text(
        "\n".join([header, *(row for row in rows if row.split("\t")[0] in clips)]) + "\n", encoding="utf-8")
    (root / "audio/validation/validation").mkdir(parents=True)
    # 10 s, as the real clip: its labelled events reach 9.971 s, and events past the clip's end are refused
    sf.write(str(root / "audio/validation/validation" / clips[0]), np.zeros(441000, dtype=np.int16), 44100)
    command = ["prepare-desed", str(root), "--out", str(tmp_path / "out"), "--splits", "validation"]
    assert main([*command, "--dry-run"]) == 1
    assert "have no readable audio" in capsys.readouterr().out
    assert main([*command, "--drop-missing"]) == 0
    assert "ready: train on it" in capsys.readouterr().out

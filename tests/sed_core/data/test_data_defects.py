"""One policy for defective strong labels (issue 21, point 4), the same in the loaders and in prepare-desed: an event
past its clip's end by more than one frame is refused naming file:line and the duration, one within a frame is
clipped and counted, same-class overlaps are merged and named by file and rows, and the prepared TSV holds the
fixed events."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sed_core.data.clip_ends import DEFAULT_FRAME, FeatureFrame, stated_resolution
from sed_core.data.desed_prepare import prepare_desed
from sed_core.data.desed_tsv_copy import with_fixes
from sed_core.data.metadata import LabelFixes, read_strong_tsv
from sed_core.data.splits import load_split, read_strong_split
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import DataError

HEADER = "filename\tonset\toffset\tevent_label"
RATE = 16000
LOGGER = "sed_core.data.metadata"


def write_text(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_clip(path: Path, seconds: float, rate: int = RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(int(round(seconds * rate)), dtype=np.int16), rate, subtype="PCM_16")


def read(tsv: Path, audio_dir: Path | None = None, durations_tsv: Path | None = None,
         frame: FeatureFrame = DEFAULT_FRAME):
    return read_strong_split(tsv, classes=DESED_CLASSES, frame=frame, audio_dir=audio_dir, check_audio=False,
                             durations_tsv=durations_tsv)


@pytest.fixture()
def ten_second_clip(tmp_path: Path) -> Path:
    """An audio folder holding a.wav, 10 s at 16 kHz."""
    write_clip(tmp_path / "audio" / "a.wav", 10.0)
    return tmp_path / "audio"


# --- the frame and the stated precision -------------------------------------------------------------------


def test_one_frame_is_the_default_front_end_hop() -> None:
    assert (DEFAULT_FRAME.hop_length, DEFAULT_FRAME.sample_rate) == (256, 16000)
    assert DEFAULT_FRAME.seconds == pytest.approx(0.016)
    assert str(DEFAULT_FRAME) == "one frame = features.hop_length 256 / data.sample_rate 16000 Hz = 0.016 s"


@pytest.mark.parametrize(("text", "resolution"), [("9.3", 0.1), ("9.302", 0.001), ("10", 1.0), (" 4.40 ", 0.01)])
def test_stated_resolution_is_the_last_decimal_written(text: str, resolution: float) -> None:
    assert stated_resolution(text) == pytest.approx(resolution)


# --- events past the clip's end ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["audio", "durations_tsv"])
def test_event_14_s_on_a_10_s_clip_is_refused_naming_file_line_and_duration(
        tmp_path: Path, ten_second_clip: Path, source: str) -> None:
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t1.000\t2.000\tCat", "a.wav\t9.000\t14.000\tDog"])
    durations = write_text(tmp_path / "durations.tsv", ["filename\tduration", "a.wav\t10.000"])
    with pytest.raises(DataError) as err:
        if source == "audio":
            read(tsv, audio_dir=ten_second_clip)
        else:
            read(tsv, durations_tsv=durations)
    message = str(err.value)
    assert message.startswith(f"{tsv}:3: 'Dog' event 9.000-14.000 ends 4.000 s past its clip's end: "
                              "clip 'a.wav' lasts 10 s")
    assert (str(ten_second_clip / "a.wav") if source == "audio" else f"{durations}:2") in message
    assert "one frame = features.hop_length 256 / data.sample_rate 16000 Hz = 0.016 s" in message
    assert "correct the offset" in message


def test_onset_past_the_end_is_refused(tmp_path: Path, ten_second_clip: Path) -> None:
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t10.000\t10.005\tDog"])
    with pytest.raises(DataError, match=r"strong\.tsv:2: 'Dog' event 10\.000-10\.005 starts at or past its clip's "
                                        r"end: clip 'a\.wav' lasts 10 s .*expected onset < duration"):
        read(tsv, audio_dir=ten_second_clip)


def test_offset_past_the_end_within_one_frame_is_clipped_and_counted(
        tmp_path: Path, ten_second_clip: Path, caplog: pytest.LogCaptureFixture) -> None:
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t8.000\t10.010\tDog", "a.wav\t9.000\t10.000\tCat",
                                               "a.wav\t9.500\t10.015\tSpeech"])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        labels = read(tsv, audio_dir=ten_second_clip)
    assert labels.events["offset"].tolist() == [10.0, 10.0, 10.0]
    assert labels.fixes.clipped == (2, 4) and labels.fixes.merged == ()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the count, once per file
    assert warnings[0].startswith(f"{tsv}: clipped 2 event offset(s) to their clip's duration")
    assert "line 2: a.wav Dog offset 10.010 -> 10 s" in warnings[0] and "0.016 s" in warnings[0]


def test_one_frame_follows_the_front_end_of_the_run(tmp_path: Path, ten_second_clip: Path) -> None:
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t8.000\t10.030\tDog"])
    with pytest.raises(DataError, match="0.016 s"):
        read(tsv, audio_dir=ten_second_clip)  # 30 ms > one frame of hop 256 at 16 kHz
    labels = read(tsv, audio_dir=ten_second_clip, frame=FeatureFrame(512, 16000))  # 32 ms frames
    assert labels.events["offset"].tolist() == [10.0] and labels.fixes.clipped == (2,)


def test_a_duration_stated_to_a_tenth_of_a_second_widens_the_slack_by_that(tmp_path: Path) -> None:
    durations = write_text(tmp_path / "durations.tsv", ["filename\tduration", "a.wav\t9.3"])
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t7.568\t9.390\tSpeech"])
    assert read(tsv, durations_tsv=durations).events["offset"].tolist() == [9.3]  # 0.090 <= 0.016 + 0.1
    write_text(tsv, [HEADER, "a.wav\t7.568\t9.450\tSpeech"])
    with pytest.raises(DataError, match=r"strong\.tsv:2: .*0\.150 s past .*lasts 9\.3 s .*plus the 0\.1 s the "
                                        r"duration is written to"):
        read(tsv, durations_tsv=durations)


def test_real_desed_validation_events_past_their_stated_durations_are_clipped(
        desed_metadata_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    # validation_durations.tsv states durations to 0.1 s; 16 events end past them, by 2 to 115 ms
    folder = desed_metadata_dir / "validation"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        labels = read(folder / "validation.tsv", durations_tsv=folder / "validation_durations.tsv")
    assert len(labels.events) == 4224 and len(labels.fixes.clipped) == 16 and labels.fixes.merged == ()
    assert 794 in labels.fixes.clipped  # Y4p-h_aOrhIw_30.000_40.000.wav Dog 9.865-10.115 on a 10.0 s clip
    assert "clipped 16 event offset(s)" in caplog.text


def test_clips_of_unknown_duration_are_not_checked(tmp_path: Path) -> None:
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t9.000\t14.000\tDog"])
    assert read(tsv).events["offset"].tolist() == [14.0]  # no durations TSV, audio not opened
    assert read(tsv, audio_dir=tmp_path / "no_such_folder").events["offset"].tolist() == [14.0]


# --- same-class overlaps ----------------------------------------------------------------------------------


def test_overlapping_same_class_events_are_merged_and_the_warning_names_file_and_rows(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tsv = write_text(tmp_path / "strong.tsv", [HEADER, "a.wav\t1.000\t3.000\tDog", "a.wav\t0.500\t2.000\tSpeech",
                                               "a.wav\t2.500\t4.000\tDog", "b.wav\t2.500\t4.000\tDog"])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        labels = read_strong_tsv(tsv, on_overlap="merge")
    assert labels.events.values.tolist() == [["a.wav", 1.0, 4.0, "Dog"], ["a.wav", 0.5, 2.0, "Speech"],
                                             ["b.wav", 2.5, 4.0, "Dog"]]
    assert labels.fixes.merged == ((2, 4),) and labels.fixes.dropped == {4}
    assert labels.fixes.rewritten == {2: ("a.wav", 1.0, 4.0, "Dog")}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(f"{tsv}: merged 1 overlapping or touching same-class event(s)")
    assert "strong.tsv:2+4: a.wav Dog 1.000-3.000 + 2.500-4.000 -> 1.000-4.000" in warning.getMessage()


def test_fixed_tsv_keeps_every_other_byte(tmp_path: Path) -> None:
    data = ("\ufeff" + HEADER + "\r\na.wav\t1.0\t3.0\tDog\r\na.wav\t0.5\t2.0\tSpeech\r\na.wav\t2.5\t4.0\tDog\r\n"
            "b.wav\t\t\t\r\nc.wav\t1\t9.40625\tCat").encode("utf-8")
    fixes = LabelFixes(rewritten={2: ("a.wav", 1.0, 4.0, "Dog"), 6: ("c.wav", 1.0, 9.40625, "Cat")},
                       dropped=frozenset({4}))
    assert with_fixes(data, fixes) == ("\ufeff" + HEADER + "\r\na.wav\t1.000\t4.000\tDog\r\na.wav\t0.5\t2.0\tSpeech"
                                       "\r\nb.wav\t\t\t\r\nc.wav\t1.000\t9.40625\tCat").encode("utf-8")
    assert with_fixes(data, LabelFixes()) == data


# --- the loaders and prepare-desed apply it alike ---------------------------------------------------------


def test_the_loaders_refuse_an_event_past_the_clip_end_before_training(tiny_dataset: Path, tmp_path: Path) -> None:
    from sed_core.config import config_from_dict
    from sed_core.training.reporter import LoggingReporter
    from sed_core.training.trainer import fit

    root = tmp_path / "tiny"
    shutil.copytree(tiny_dataset, root)
    tsv = root / "metadata/train/synthetic21_train/soundscapes.tsv"
    header, first, *rows = tsv.read_text(encoding="utf-8").splitlines()
    filename, onset, _, label = first.split("\t")
    write_text(tsv, [header, f"{filename}\t{onset}\t8.000\t{label}", *rows])  # the clips last 4 s
    with pytest.raises(DataError) as err:
        load_split(root, "synthetic_train", classes=DESED_CLASSES)
    assert str(err.value).startswith(f"{tsv}:2: {label!r} event {float(onset):.3f}-8.000 ends 4.000 s past its "
                                     f"clip's end: clip {filename!r} lasts 4 s")

    reporter = LoggingReporter()
    config = config_from_dict({"preset": "tiny", "data": {"root": str(root)}, "output_dir": str(tmp_path / "run"),
                               "training": {"epochs": 1, "steps_per_epoch": 1}})
    with pytest.raises(DataError, match=r"soundscapes\.tsv:2: .* lasts 4 s"):
        fit(config, reporter)
    assert reporter.history == [] and not (tmp_path / "run" / "best_model.pt").exists()


def make_validation_download(root: Path, rows: list[str]) -> Path:
    """A DESED download holding only the validation split: a.wav and b.wav, 10 s at 16 kHz; returns its TSV."""
    for name in ("a.wav", "b.wav"):
        write_clip(root / "audio/validation/validation_16k" / name, 10.0)
    return write_text(root / "metadata/validation/validation.tsv", [HEADER, *rows])


def test_prepare_desed_writes_the_merged_and_clipped_events(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from studies.cli import main

    source, out = tmp_path / "DESED", tmp_path / "out"
    tsv = make_validation_download(source, [
        "a.wav\t1.000\t3.000\tDog",
        "a.wav\t0.500\t2.000\tSpeech",
        "a.wav\t2.500\t4.000\tDog",  # overlaps line 2
        "a.wav\t8.000\t10.010\tCat",  # 10 ms past the end of the 10 s clip
        "b.wav\t0.000\t1.000\tBlender",
    ])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert main(["prepare-desed", str(source), "--out", str(out), "--splits", "validation"]) == 0
    printed = capsys.readouterr().out
    assert "labels fixed: 1 event(s) ending past their clip's end" in printed and "(line 5)" in printed
    assert "2 overlapping same-class event(s) merged into 1 (lines 2+4)" in printed
    assert "the written TSV holds the fixed events" in printed and "ready: train on it" in printed
    assert f"{tsv}: merged 1 overlapping" in caplog.text and "validation.tsv:2+4:" in caplog.text
    assert f"{tsv}: clipped 1 event offset(s)" in caplog.text

    written = out / "metadata/validation/validation.tsv"
    assert written.read_text(encoding="utf-8").splitlines() == [
        HEADER, "a.wav\t1.000\t4.000\tDog", "a.wav\t0.500\t2.000\tSpeech", "a.wav\t8.000\t10.000\tCat",
        "b.wav\t0.000\t1.000\tBlender"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        prepared = load_split(out, "validation", classes=DESED_CLASSES)
        downloaded = load_split(source, "validation", classes=DESED_CLASSES)  # the same policy on the download
    assert prepared.events.values.tolist() == downloaded.events.values.tolist() == [
        ["a.wav", 1.0, 4.0, "Dog"], ["a.wav", 0.5, 2.0, "Speech"], ["a.wav", 8.0, 10.0, "Cat"],
        ["b.wav", 0.0, 1.0, "Blender"]]
    assert str(written) not in caplog.text  # the prepared copy needs no more fixing
    report = prepare_desed(source, out, splits=["validation"])  # a rerun changes nothing
    assert report.tsv_written == () and written in report.tsv_unchanged


def test_prepare_desed_refuses_an_event_past_the_clip_end_before_writing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studies.cli import main

    source, out = tmp_path / "DESED", tmp_path / "out"
    tsv = make_validation_download(source, ["a.wav\t1.000\t3.000\tDog", "b.wav\t9.000\t14.000\tSpeech"])
    assert main(["prepare-desed", str(source), "--out", str(out), "--splits", "validation"]) == 2
    error = capsys.readouterr().err
    assert f"{tsv}:3: 'Speech' event 9.000-14.000 ends 4.000 s past its clip's end: clip 'b.wav' lasts 10 s" in error
    assert "0.016 s" in error and "ready" not in error and not out.exists()

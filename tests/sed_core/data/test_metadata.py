from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from sed_core.data.metadata import (
    StrongLabels,
    read_durations_tsv,
    read_strong_tsv,
    read_unlabelled_tsv,
    read_weak_tsv,
)
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import DataError

STRONG_HEADER = "filename\tonset\toffset\tevent_label"


def write_tsv(tmp_path: Path, relative: str, lines: list[str]) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the real DESED files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validation(desed_metadata_dir: Path) -> StrongLabels:
    return read_strong_tsv(desed_metadata_dir / "validation" / "validation.tsv")


def test_real_validation_counts(validation: StrongLabels) -> None:
    # 4239 data rows = 4224 events + 15 rows with an empty label (clips without events), 1168 clips
    assert len(validation.events) == 4224
    assert len(validation.filenames) == 1168
    assert len(set(validation.filenames)) == 1168
    assert len(validation.clips_without_events) == 15
    assert "YU0Cg_t_3TdI_30.000_40.000.wav" in validation.clips_without_events  # line 4053
    assert list(validation.events.columns) == ["filename", "onset", "offset", "event_label"]
    assert validation.events["onset"].dtype == "float64" and validation.events["offset"].dtype == "float64"
    assert (validation.events["offset"] > validation.events["onset"]).all()
    assert set(validation.events["event_label"]) == set(DESED_CLASSES)
    assert (validation.events["event_label"] == "Speech").sum() == 1752
    first = validation.events.iloc[0]
    assert (first["filename"], first["onset"], first["offset"], first["event_label"]) == (
        "Y00pbt6aJV8Y_350.000_360.000.wav",
        0.0,
        9.971,
        "Vacuum_cleaner",
    )


@pytest.mark.parametrize(("relative", "n_events", "n_clips"), [
    ("validation/validation.tsv", 4224, 1168),
    ("eval/public.tsv", 2765, 692),
])
def test_real_strong_files_have_no_same_class_overlaps(
    desed_metadata_dir: Path, relative: str, n_events: int, n_clips: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Both real files load with the strict default; merging finds nothing to merge (same events, no log line).
    strict = read_strong_tsv(desed_metadata_dir / relative, on_overlap="raise")
    with caplog.at_level(logging.INFO, logger="sed_core.data.metadata"):
        merged = read_strong_tsv(desed_metadata_dir / relative, on_overlap="merge")
    assert len(strict.events) == n_events and len(strict.filenames) == n_clips
    pd.testing.assert_frame_equal(strict.events, merged.events)
    assert "merged" not in caplog.text


def test_real_weak_multi_labels(desed_metadata_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sed_core.data.metadata"):
        weak = read_weak_tsv(desed_metadata_dir / "train" / "weak.tsv", classes=DESED_CLASSES)
    assert len(weak.filenames) == 1578 == len(set(weak.filenames)) == len(weak.labels)
    labels = weak.as_dict()
    assert labels["YKK227gPpRn4_30.000_40.000.wav"] == ("Alarm_bell_ringing", "Speech")
    assert sum(len(clip) > 1 for clip in weak.labels) == 592
    assert max(len(clip) for clip in weak.labels) == 3
    assert {label for clip in weak.labels for label in clip} == set(DESED_CLASSES)
    # the real file repeats a label within a row three times (lines 681, 1050, 1505): kept once, logged
    assert labels["Y79rmTWPTE4k_20.000_30.000.wav"] == ("Alarm_bell_ringing",)
    assert labels["YAY7QlDwEAH8_0.000_6.000.wav"] == ("Dishes", "Running_water")
    assert "dropped 3 repeated label(s)" in caplog.text


def test_real_unlabelled(desed_metadata_dir: Path) -> None:
    clips = read_unlabelled_tsv(desed_metadata_dir / "train" / "unlabel_in_domain.tsv")
    assert len(clips) == 14412 == len(set(clips))
    assert clips[0] == "Y--CE2f-ttEQ_30.000_40.000.wav"


def test_real_durations_match_validation(desed_metadata_dir: Path, validation: StrongLabels) -> None:
    durations = read_durations_tsv(desed_metadata_dir / "validation" / "validation_durations.tsv")
    assert len(durations) == 1168
    assert sum(d < 10.0 for d in durations.values()) == 102
    assert durations["YSktlw1AytXw_0.000_3.000.wav"] == 2.4
    assert set(durations) == set(validation.filenames)


# --- strong-label errors, one per kind ------------------------------------------------------------------


def test_missing_column_names_expected_columns(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "metadata/validation/validation.tsv", ["filename\tonset\toffset", "a.wav\t0\t1"])
    with pytest.raises(DataError) as info:
        read_strong_tsv(path)
    message = str(info.value)
    assert f"{path}:1:" in message
    assert "expected columns filename, onset, offset, event_label" in message
    assert "missing 'event_label'" in message


def test_extra_column_is_named_with_hint(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "weak.tsv", ["filename\tevent_labels\tevent_label", "a.wav\tDog\tDog"])
    with pytest.raises(DataError) as info:
        read_weak_tsv(path, classes=DESED_CLASSES)
    message = str(info.value)
    assert f"{path}:1:" in message
    assert "unexpected 'event_label'" in message and "(did you mean 'event_labels'?)" in message


def test_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", "b.wav 0 1 Dog"])
    with pytest.raises(DataError, match=r"strong\.tsv:3: expected 4 tab-separated fields .* found 1"):
        read_strong_tsv(path)


def test_non_numeric_onset(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", "a.wav\tabc\t3\tCat"])
    with pytest.raises(DataError) as info:
        read_strong_tsv(path)
    assert str(info.value).startswith(f"{path}:3: onset 'abc' is not a number; expected seconds >= 0")


def test_negative_offset(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t-1.5\tDog"])
    with pytest.raises(DataError, match=r"strong\.tsv:2: offset -1\.5 is negative; expected seconds >= 0"):
        read_strong_tsv(path)


@pytest.mark.parametrize(("onset", "offset"), [("2.0", "1.0"), ("1.0", "1.0")])
def test_offset_not_after_onset(tmp_path: Path, onset: str, offset: str) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", f"b.wav\t{onset}\t{offset}\tCat"])
    with pytest.raises(DataError, match=rf"strong\.tsv:3: offset {offset} <= onset {onset}; expected offset > onset"):
        read_strong_tsv(path)


def test_unknown_label_with_close_match(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", "a.wav\t2\t3\tDgo"])
    with pytest.raises(DataError) as info:
        read_strong_tsv(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: unknown label 'Dgo' (did you mean 'Dog'?)")
    assert "expected one of the 10 classes" in message
    assert "more error" not in message


def test_empty_label_with_times_is_rejected(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t\t\t", "b.wav\t0.5\t1.0\t"])
    with pytest.raises(DataError, match=r"strong\.tsv:3: empty event_label but onset/offset given"):
        read_strong_tsv(path)


def test_empty_label_rows_are_clips_without_events(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", "b.wav\t\t\t", "a.wav\t2\t3\tCat"])
    labels = read_strong_tsv(path)
    assert labels.filenames == ("a.wav", "b.wav")
    assert labels.clips_without_events == ("b.wav",)
    assert labels.events["event_label"].tolist() == ["Dog", "Cat"]


def test_many_label_errors_report_first_and_count(tmp_path: Path) -> None:
    rows = [f"c{i}.wav\t0\t1\tCta" for i in range(12)]
    path = write_tsv(tmp_path, "metadata/train/synthetic.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", *rows])
    with pytest.raises(DataError) as info:
        read_strong_tsv(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: unknown label 'Cta' (did you mean 'Cat'?)")
    assert "... and 11 more error(s) in synthetic.tsv: line 4: unknown label 'Cta'" in message
    assert "(6 not shown)" in message


def test_overlapping_same_class_events_name_both_rows(tmp_path: Path) -> None:
    path = write_tsv(
        tmp_path,
        "strong.tsv",
        [STRONG_HEADER, "a.wav\t0.5\t2.0\tDog", "a.wav\t1.0\t3.0\tCat", "a.wav\t1.5\t2.5\tDog"],
    )
    with pytest.raises(DataError) as info:
        read_strong_tsv(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4: 'Dog' event 1.500-2.500 in clip 'a.wav' overlaps the 'Dog' event at line 2")
    assert "on_overlap='merge'" in message


def test_touching_same_class_events_are_rejected(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t2.0\t3.0\tDog", "a.wav\t0.0\t2.0\tDog"])
    touching = r"strong\.tsv:2: 'Dog' event 2\.000-3\.000 .* touches the 'Dog' event at line 3"
    with pytest.raises(DataError, match=touching):
        read_strong_tsv(path)


def test_contained_event_is_found_after_a_long_event(tmp_path: Path) -> None:
    # 0-10 contains 2-3 and 5-6: both later rows overlap line 2, even though 2-3 ends before 5-6 starts
    path = write_tsv(
        tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t10\tDog", "a.wav\t2\t3\tDog", "a.wav\t5\t6\tDog"]
    )
    with pytest.raises(DataError) as info:
        read_strong_tsv(path)
    message = str(info.value)
    assert ":3: 'Dog' event 2.000-3.000" in message and "at line 2" in message
    assert "1 more error(s)" in message and "line 4:" in message


def test_merge_overlaps_and_log_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_tsv(
        tmp_path,
        "strong.tsv",
        [
            STRONG_HEADER,
            "a.wav\t1.5\t2.5\tDog",
            "a.wav\t1.0\t3.0\tCat",
            "a.wav\t0.5\t2.0\tDog",  # overlaps 1.5-2.5
            "a.wav\t2.5\t4.0\tDog",  # touches 1.5-2.5
            "a.wav\t6.0\t7.0\tDog",  # disjoint
            "b.wav\t0.5\t2.0\tDog",  # other clip
        ],
    )
    with caplog.at_level(logging.INFO, logger="sed_core.data.metadata"):
        labels = read_strong_tsv(path, on_overlap="merge")
    assert labels.events.values.tolist() == [
        ["a.wav", 0.5, 4.0, "Dog"],
        ["a.wav", 1.0, 3.0, "Cat"],
        ["a.wav", 6.0, 7.0, "Dog"],
        ["b.wav", 0.5, 2.0, "Dog"],
    ]
    assert "merged 2 overlapping or touching" in caplog.text


def test_invalid_overlap_policy(tmp_path: Path) -> None:
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog"])
    with pytest.raises(ValueError, match="on_overlap must be 'raise' or 'merge', got 'ignore'"):
        read_strong_tsv(path, on_overlap="ignore")  # type: ignore[arg-type]


# --- weak, unlabelled, durations ------------------------------------------------------------------------


def test_weak_unknown_label(tmp_path: Path) -> None:
    path = write_tsv(
        tmp_path, "metadata/train/weak.tsv", ["filename\tevent_labels", "a.wav\tDog,Speech", "b.wav\tCat,Dgo"]
    )
    with pytest.raises(DataError) as info:
        read_weak_tsv(path, classes=DESED_CLASSES)
    assert str(info.value).startswith(f"{path}:3: unknown label 'Dgo' (did you mean 'Dog'?)")


@pytest.mark.parametrize(
    ("header", "row_a", "row_b", "reader"),
    [
        ("filename\tevent_labels", "a.wav\tDog", "a.wav\tCat", lambda p: read_weak_tsv(p, classes=DESED_CLASSES)),
        ("filename", "a.wav", "a.wav", read_unlabelled_tsv),
        ("filename\tduration", "a.wav\t10.0", "a.wav\t9.0", read_durations_tsv),
    ],
    ids=["weak", "unlabelled", "durations"],
)
def test_duplicate_filename(tmp_path: Path, header: str, row_a: str, row_b: str, reader) -> None:
    path = write_tsv(tmp_path, "list.tsv", [header, row_a, "b.wav" + row_a[5:], row_b])
    with pytest.raises(DataError) as info:
        reader(path)
    assert str(info.value).startswith(f"{path}:4: duplicate filename 'a.wav' (first at line 2)")


@pytest.mark.parametrize(("value", "expected"), [("ten", "duration 'ten' is not a number"), ("0", "duration 0;")])
def test_bad_duration(tmp_path: Path, value: str, expected: str) -> None:
    path = write_tsv(tmp_path, "durations.tsv", ["filename\tduration", "a.wav\t10.0", f"b.wav\t{value}"])
    with pytest.raises(DataError) as info:
        read_durations_tsv(path)
    assert str(info.value).startswith(f"{path}:3: {expected}")


def test_missing_audio_files_named_and_counted(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "have.wav").write_bytes(b"")
    names = ["have.wav"] + [f"gone{i}.wav" for i in range(7)]
    path = write_tsv(tmp_path, "unlabel.tsv", ["filename", *names])
    with pytest.raises(DataError) as info:
        read_unlabelled_tsv(path, audio_dir=audio)
    message = str(info.value)
    assert message.startswith(f"{path}:3: 7 of 8 clip(s) have no audio file in {audio}: gone0.wav, gone1.wav")
    assert "gone4.wav, ..." in message and "gone5.wav" not in message
    assert read_unlabelled_tsv(write_tsv(tmp_path, "ok.tsv", ["filename", "have.wav"]), audio_dir=audio) == (
        "have.wav",
    )


def test_missing_audio_for_strong_labels_includes_clips_without_events(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "a.wav").write_bytes(b"")
    path = write_tsv(tmp_path, "strong.tsv", [STRONG_HEADER, "a.wav\t0\t1\tDog", "silent.wav\t\t\t"])
    with pytest.raises(DataError, match=r"strong\.tsv:3: 1 of 2 clip\(s\) have no audio file .*: silent\.wav"):
        read_strong_tsv(path, audio_dir=audio)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.tsv: file not found; expected a TSV with columns filename, duration"):
        read_durations_tsv(tmp_path / "nope.tsv")


def test_shipped_official_lists_have_the_official_clip_counts() -> None:
    from sed_core.data.fingerprint import OFFICIAL_CLIPS
    from sed_core.data.official_lists import OFFICIAL_LIST_FILES, missing_from_official, official_clip_ids

    for split in OFFICIAL_LIST_FILES:
        assert len(official_clip_ids(split)) == OFFICIAL_CLIPS[split], split
    some = sorted(official_clip_ids("validation"))[:3]
    assert missing_from_official("validation", set(some))[:1] == (sorted(official_clip_ids("validation"))[3],)
    assert len(missing_from_official("validation", set(some))) == 1168 - 3
    assert official_clip_ids("synthetic_train") is None and missing_from_official("synthetic_train", set()) is None

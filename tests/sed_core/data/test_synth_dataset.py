"""Whole-dataset tests of the synthetic generator on the ``tiny`` preset: determinism, layout, TSVs, manifest."""
from __future__ import annotations

import csv
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sed_core.data.layout import EVAL_SPLITS, SPLITS
from sed_core.data.synth import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    SYNTH_PRESETS,
    SplitSizes,
    generate_dataset,
    read_manifest,
    render_clip,
    verify_files,
)
from sed_core.data.synth import generate as generate_module
from sed_core.data.synth.presets import GUARANTEED_SPLITS
from sed_core.data.synth.scene import split_plan
from sed_core.data.synth.seeding import stratified_flag
from sed_core.data.synth.writers import encode_wav
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, DataError

TINY = SYNTH_PRESETS["tiny"]
DECIMALS_3 = re.compile(r"^\d+\.\d{3}$")


@pytest.fixture(scope="module")
def built(tiny_dataset: Path) -> Path:
    """tiny, seed 0, built in-process on one worker: the session's `tiny_dataset` (tests/conftest.py), which every
    test only reads (a test that wrote to it would fail the byte comparison with `built_parallel` here)."""
    assert (tiny_dataset / MANIFEST_NAME).is_file()
    return tiny_dataset


@pytest.fixture(scope="module")
def built_parallel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same build (tiny, seed 0) on a pool of 2 worker processes."""
    root = tmp_path_factory.mktemp("synth") / "tiny_w2"
    generate_dataset(TINY, root, seed=0, workers=2)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[0], rows[1:]


def _strong_events(root: Path, split: str) -> list[tuple[str, float, float, str]]:
    _, rows = _rows(SPLITS[split].tsv_path(root))
    return [(r[0], float(r[1]), float(r[2]), r[3]) for r in rows if r[3]]


def _durations(root: Path, split: str) -> dict[str, float]:
    _, rows = _rows(SPLITS[split].durations_path(root))
    return {r[0]: float(r[1]) for r in rows}


def test_same_seed_builds_are_byte_identical_whatever_the_worker_count(built: Path, built_parallel: Path) -> None:
    a, b = _files(built), _files(built_parallel)
    assert sorted(a) == sorted(b)
    assert len(a) == sum(TINY.split_sizes().values()) + 9  # wavs + 8 TSVs + manifest
    differing = [name for name in a if a[name] != b[name]]
    assert differing == []


def test_another_seed_gives_other_audio(built: Path) -> None:
    for split, layout in SPLITS.items():
        other = encode_wav(render_clip(TINY, split, 0, seed=1).audio)
        assert other != (layout.audio_path(built) / f"{split}_000000.wav").read_bytes(), split


@pytest.mark.parametrize(("split", "index"), [("validation", 15), ("weak_train", 7), ("synthetic_train", 3)])
def test_a_clip_rendered_alone_equals_the_one_in_the_build(built: Path, split: str, index: int) -> None:
    clip = render_clip(TINY, split, index, seed=0)
    assert encode_wav(clip.audio) == (SPLITS[split].audio_path(built) / clip.filename).read_bytes()


def test_layout_audio_format_and_tsv_headers(built: Path) -> None:
    headers = {"strong": ["filename", "onset", "offset", "event_label"], "weak": ["filename", "event_labels"],
               "none": ["filename"]}
    for split, layout in SPLITS.items():
        count = TINY.split_sizes()[split]
        expected = [f"{split}_{i:06d}.wav" for i in range(count)]
        wavs = sorted(p.name for p in layout.audio_path(built).iterdir())
        assert wavs == expected
        for name in (expected[0], expected[-1]):
            info = sf.info(str(layout.audio_path(built) / name))
            assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        header, rows = _rows(layout.tsv_path(built))
        assert header == headers[layout.labels]
        assert all(len(r) == len(header) for r in rows)
        assert sorted({r[0] for r in rows}) == expected  # every clip listed, nothing else
        if layout.labels != "strong":
            assert [r[0] for r in rows] == expected  # one row per clip, in order


def test_strong_rows_are_well_formed_and_inside_their_clip(built: Path) -> None:
    for split, layout in SPLITS.items():
        if layout.labels != "strong":
            continue
        durations = _durations(built, split) if layout.durations_tsv else {}
        _, rows = _rows(layout.tsv_path(built))
        for name, onset, offset, label in rows:
            if not label:
                assert onset == offset == ""  # a clip without events, as in DESED validation.tsv
                continue
            assert DECIMALS_3.match(onset) and DECIMALS_3.match(offset), (name, onset, offset)
            assert label in DESED_CLASSES
            length = durations.get(name, TINY.clip_seconds)
            assert 0.0 <= float(onset) < float(offset) <= length + 1e-9, (name, onset, offset, length)


def test_weak_labels_are_sorted_known_and_match_the_audio_events(built: Path) -> None:
    _, rows = _rows(SPLITS["weak_train"].tsv_path(built))
    for name, joined in rows:
        tags = joined.split(",")
        assert tags == sorted(set(tags)) and set(tags) <= set(DESED_CLASSES) and tags != [""]
        index = int(name.removesuffix(".wav").rsplit("_", 1)[1])
        events = render_clip(TINY, "weak_train", index, seed=0).events
        assert set(tags) == {e.label for e in events}  # weak_label_noise is 0 in tiny


def test_every_class_has_events_in_evaluated_and_strong_training_splits(built: Path) -> None:
    assert set(GUARANTEED_SPLITS) >= set(EVAL_SPLITS) | {"synthetic_train", "strong_train"}
    for split in GUARANTEED_SPLITS:
        labels = {e[3] for e in _strong_events(built, split)}
        assert labels == set(DESED_CLASSES), (split, set(DESED_CLASSES) - labels)


def test_same_class_events_never_overlap_or_touch(built: Path) -> None:
    checked = 0
    for split, layout in SPLITS.items():
        if layout.labels != "strong":
            continue
        by_key: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for name, onset, offset, label in _strong_events(built, split):
            by_key.setdefault((name, label), []).append((onset, offset))
        for spans in by_key.values():
            spans.sort()
            for (_, prev_off), (next_on, _) in zip(spans, spans[1:]):
                assert next_on - prev_off >= TINY.same_class_gap_s - 1e-9
                checked += 1
    assert checked > 0  # the tiny build does hold repeated classes, so the check ran


def test_short_validation_clips_have_true_durations(built: Path) -> None:
    durations = _durations(built, "validation")
    assert len(durations) == TINY.clips.validation
    offset = split_plan(0, "validation").short_offset
    for name, duration in durations.items():
        index = int(name.removesuffix(".wav").rsplit("_", 1)[1])
        frames = sf.info(str(SPLITS["validation"].audio_path(built) / name)).frames
        assert frames == round(duration * 16000)
        if stratified_flag(index, TINY.short_clip_fraction, offset):
            lo, hi = TINY.short_clip_ratio
            assert lo * TINY.clip_seconds - 0.001 <= duration <= hi * TINY.clip_seconds + 0.001
        else:
            assert duration == TINY.clip_seconds
    n_short = sum(d < TINY.clip_seconds for d in durations.values())
    assert n_short >= math.floor(TINY.clips.validation * TINY.short_clip_fraction) >= 1
    assert set(_durations(built, "synthetic_validation").values()) == {TINY.clip_seconds}


def test_clip_peaks_follow_the_preset(built: Path) -> None:
    lo, hi = TINY.peak_dbfs
    for path in sorted(SPLITS["strong_train"].audio_path(built).iterdir())[:6]:
        audio, _ = sf.read(str(path), dtype="float32")
        peak_db = 20 * np.log10(np.abs(audio).max())
        assert lo - 0.1 <= peak_db <= hi + 0.1


def test_manifest_records_parameters_counts_and_hashes(built: Path, tmp_path: Path) -> None:
    manifest = read_manifest(built / MANIFEST_NAME)
    assert manifest["preset"] == "tiny" and manifest["seed"] == 0
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["parameters"] == TINY.parameters()
    assert {s: v["clips"] for s, v in manifest["splits"].items()} == TINY.split_sizes()
    on_disk = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert set(manifest["files"]) == on_disk
    assert list(manifest["files"]) == sorted(manifest["files"])
    assert verify_files(built) == []

    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    tampered = "metadata/validation/validation.tsv"
    (copy / tampered).write_text("filename\tonset\toffset\tevent_label\n")
    assert verify_files(copy) == [tampered]


def test_rerun_with_the_same_build_only_reads_the_manifest(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fast path must not rebuild")

    monkeypatch.setattr(generate_module, "_build", no_build)
    before = {p: p.stat().st_mtime_ns for p in built.rglob("*")}
    assert generate_dataset("tiny", built, seed=0, workers=2) == built / MANIFEST_NAME
    assert {p: p.stat().st_mtime_ns for p in built.rglob("*")} == before


def test_another_build_in_the_same_folder_raises(built: Path) -> None:
    with pytest.raises(DataError, match=r"seed 0.*seed 1.*another --out or delete"):
        generate_dataset("tiny", built, seed=1)
    with pytest.raises(DataError, match=r"parameters that differ: snr_db"):
        generate_dataset(TINY.replace(snr_db=(5.0, 10.0)), built, seed=0)
    with pytest.raises(DataError, match=r"preset 'tiny'.*preset 'demo'"):
        generate_dataset("demo", built, seed=0)
    assert verify_files(built) == []  # untouched


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="neither empty nor a synthetic dataset"):
        generate_dataset("tiny", tmp_path, seed=0)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_interrupted_build_leaves_no_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def interrupted(chunks: list, workers: int, progress: object) -> list:
        calls.append(len(chunks))
        generate_module._render_chunk(chunks[0])  # some files are written before the interruption
        raise KeyboardInterrupt

    monkeypatch.setattr(generate_module, "_run_chunks", interrupted)
    out = tmp_path / "ds"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset("tiny", out, seed=0)
    assert len(calls) == 1 and calls[0] > 0
    assert list(tmp_path.iterdir()) == []  # neither ds nor the temporary folder


def test_progress_reports_every_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = {s: 10 if s in GUARANTEED_SPLITS else 1 for s in SPLITS}
    small = TINY.replace(name="tiny_small", clips=SplitSizes(**sizes))
    seen: list[tuple[int, int]] = []
    generate_dataset(small, tmp_path / "ds", seed=3, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 42) and seen[-1] == (42, 42)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_bad_arguments_raise_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'tiny'"):
        generate_dataset("tiyn", tmp_path / "a")
    with pytest.raises(ConfigError, match="seed"):
        generate_dataset("tiny", tmp_path / "a", seed=-1)
    with pytest.raises(ConfigError, match="workers"):
        generate_dataset("tiny", tmp_path / "a", workers=0)
    assert not (tmp_path / "a").exists()

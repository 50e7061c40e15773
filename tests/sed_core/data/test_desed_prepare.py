from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sed_core.data.resample_audio as resample_audio
from sed_core.data.desed_prepare import PrepareReport, SplitReport, prepare_desed
from sed_core.data.desed_tsv_copy import MISSING_LIST
from sed_core.data.resample_audio import PARTIAL_TAG, resampled_length
from sed_core.data.splits import load_split
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, DataError

SECONDS = 0.5
SINE_HZ = 440.0
STRONG_HEADER = "filename\tonset\toffset\tevent_label"


def sine(rate: int, frames: int, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * SINE_HZ * np.arange(frames) / rate)).astype(np.float32)


def write_wav(path: Path, rate: int = 44100, *, frames: int | None = None, stereo: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(SECONDS * rate) if frames is None else frames
    x = sine(rate, frames)
    data = np.stack([x, np.zeros_like(x)], axis=1) if stereo else x  # stereo: sine left, silence right
    sf.write(str(path), data, rate, subtype="PCM_16")


def write_text(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def real_lines(path: Path, n_clips: int) -> tuple[str, list[str]]:
    """Header and the data lines of the first n_clips clips of a real DESED TSV, verbatim."""
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    names = list(dict.fromkeys(r.split("\t")[0] for r in rows))[:n_clips]
    return header, [r for r in rows if r.split("\t")[0] in names]


def make_desed(root: Path, meta: Path) -> dict[str, list[str]]:
    """A tiny DESED download: 44.1 kHz audio in the downloaded folder names, validation already at 16 kHz.

    weak: 4 clips in the TSV, the 4th without audio, one stereo, one at 48 kHz, plus an extra file;
    unlabelled: 2 clips, one of them not a readable audio file; strong_train: absent (optional).
    Returns the clip names of each split.
    """
    names: dict[str, list[str]] = {}
    synth = ["0.wav", "1.wav"]
    synth_rows = ["0.wav\t0.050\t0.300\tDog", "0.wav\t0.100\t0.450\tSpeech", "1.wav\t0.000\t0.500\tFrying"]
    write_text(root / "metadata/train/synthetic21_train/soundscapes.tsv", [STRONG_HEADER, *synth_rows])
    write_wav(root / "audio/train/synthetic21_train/soundscapes/0.wav")
    write_wav(root / "audio/train/synthetic21_train/soundscapes/1.wav", frames=22051)
    names["synthetic_train"] = synth

    header, rows = real_lines(meta / "train/weak.tsv", 4)
    write_text(root / "metadata/train/weak.tsv", [header, *rows])
    weak = [r.split("\t")[0] for r in rows]
    write_wav(root / "audio/train/weak" / weak[0])
    write_wav(root / "audio/train/weak" / weak[1], stereo=True)
    write_wav(root / "audio/train/weak" / weak[2], rate=48000)
    write_wav(root / "audio/train/weak/Yextra_0.000_10.000.wav")
    (root / "audio/train/weak/readme.txt").write_text("not audio")
    names["weak_train"] = weak

    header, rows = real_lines(meta / "train/unlabel_in_domain.tsv", 2)
    write_text(root / "metadata/train/unlabel_in_domain.tsv", [header, *rows])
    write_wav(root / "audio/train/unlabel_in_domain" / rows[0])
    (root / "audio/train/unlabel_in_domain" / rows[1]).write_bytes(b"RIFF broken download")
    names["unlabelled_train"] = rows

    write_text(root / "metadata/validation/synthetic21_validation/soundscapes.tsv",
               [STRONG_HEADER, "0.wav\t0.100\t0.400\tBlender"])
    write_text(root / "metadata/validation/synthetic21_validation/durations.tsv", ["filename\tduration", "0.wav\t0.5"])
    write_wav(root / "audio/validation/synthetic21_validation/soundscapes/0.wav")
    names["synthetic_validation"] = ["0.wav"]

    header, rows = real_lines(meta / "validation/validation.tsv", 2)
    no_event = "YU0Cg_t_3TdI_30.000_40.000.wav"  # a real clip without events: onset, offset, label empty
    rows.append(f"{no_event}\t\t\t")
    write_text(root / "metadata/validation/validation.tsv", [header, *rows])
    valid = list(dict.fromkeys(r.split("\t")[0] for r in rows))
    dur_header = (meta / "validation/validation_durations.tsv").read_text().splitlines()[0]
    write_text(root / "metadata/validation/validation_durations.tsv", [dur_header, *(f"{n}\t10.0" for n in valid)])
    for name in valid:
        write_wav(root / "audio/validation/validation_16k" / name, rate=16000)
    names["validation"] = valid
    return names


@pytest.fixture()
def desed(tmp_path: Path, desed_metadata_dir: Path) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path / "DESED"
    return root, make_desed(root, desed_metadata_dir)


def by_name(report: PrepareReport) -> dict[str, SplitReport]:
    return {s.name: s for s in report.splits}


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_report_counts_what_it_found_and_did(desed: tuple[Path, dict[str, list[str]]], tmp_path: Path) -> None:
    root, names = desed
    report = prepare_desed(root, tmp_path / "out")
    splits = by_name(report)
    assert list(splits) == ["synthetic_train", "weak_train", "unlabelled_train", "synthetic_validation", "validation"]
    assert dict(report.absent).keys() == {"strong_train"} and "strong_label_real" in report.absent["strong_train"]

    weak = splits["weak_train"]
    assert (weak.clips, weak.found, weak.missing, weak.extra) == (4, 3, (names["weak_train"][3],),
                                                                  ("Yextra_0.000_10.000.wav",))
    assert weak.sample_rates == {44100: 2, 48000: 1} and weak.channels == {1: 2, 2: 1}
    assert (weak.resampled, weak.copied, weak.skipped) == (3, 0, 0)
    assert weak.audio_dir == root / "audio/train/weak"
    assert weak.out_audio_dir == tmp_path / "out/audio/train/weak_16k"

    unlabelled = splits["unlabelled_train"]
    assert unlabelled.unreadable == (names["unlabelled_train"][1],)
    assert (unlabelled.found, unlabelled.resampled) == (2, 1)

    validation = splits["validation"]
    assert validation.audio_dir == root / "audio/validation/validation_16k"  # the *_16k twin is accepted
    assert validation.clips == 3 and validation.sample_rates == {16000: 3}
    assert (validation.resampled, validation.copied, validation.skipped) == (0, 3, 0)
    assert validation.seconds == pytest.approx((SECONDS, SECONDS, 3 * SECONDS))
    assert len(report.tsv_written) == 7 and not report.complete  # 5 split TSVs + 2 durations TSVs

    # each split's coverage of DESED's official list: weak has 3 of 1,578 clips readable here
    assert weak.coverage == (3, 1578) and validation.coverage == (3, 1168)
    assert unlabelled.coverage == (1, 14412) and splits["synthetic_train"].coverage == (2, 10000)  # no id list
    # ... and which clips: every official id the copy cannot use, in the report and in one TSV at the output root
    assert len(weak.not_in_copy) == 1575 and names["weak_train"][3] in weak.not_in_copy
    assert not set(names["weak_train"][:3]) & set(weak.not_in_copy)
    assert unlabelled.not_in_copy is not None and names["unlabelled_train"][1] in unlabelled.not_in_copy
    assert splits["synthetic_train"].not_in_copy is None  # generated by a recipe: no fixed list
    rows = (tmp_path / "out" / MISSING_LIST).read_text().splitlines()
    assert rows[0] == "split\tfilename" and f"weak_train\t{names['weak_train'][3]}" in rows
    assert len(rows) == 1 + 1575 + len(unlabelled.not_in_copy) + 1165


def test_output_is_16k_mono_of_the_right_length_and_content(desed: tuple[Path, dict[str, list[str]]],
                                                             tmp_path: Path) -> None:
    root, names = desed
    out = tmp_path / "out"
    prepare_desed(root, out)
    weak_dir = out / "audio/train/weak_16k"
    for name, rate, frames in [(names["weak_train"][0], 44100, 22050), (names["weak_train"][2], 48000, 24000),
                               ("1.wav", 44100, 22051)]:
        folder = out / "audio/train/synthetic21_train/soundscapes_16k" if name == "1.wav" else weak_dir
        info = sf.info(str(folder / name))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == resampled_length(frames, rate, 16000)
    assert resampled_length(22050, 44100, 16000) == 8000 and resampled_length(24000, 48000, 16000) == 8000

    mono, _ = sf.read(str(weak_dir / names["weak_train"][0]))
    downmixed, _ = sf.read(str(weak_dir / names["weak_train"][1]))  # sine left, silence right -> half the sine
    reference = sine(16000, len(mono))
    inner = slice(200, -200)  # away from the zero-padded edges of the sinc filter
    assert np.abs(mono[inner] - reference[inner]).max() < 2e-3
    assert np.abs(downmixed[inner] - 0.5 * reference[inner]).max() < 2e-3
    assert not (out / "audio/train/unlabel_in_domain_16k" / names["unlabelled_train"][1]).exists()
    copied = out / "audio/validation/validation_16k" / names["validation"][0]
    assert copied.read_bytes() == (root / "audio/validation/validation_16k" / names["validation"][0]).read_bytes()


def test_resampled_length_mirrors_torchaudio_rounding() -> None:
    import torch
    import torchaudio.functional as audio_f

    exact = [n for n in range(600_000, 700_000) if (160 * n) % 441 == 1]
    tricky = next(n for n in exact if resampled_length(n, 44100, 16000) != -(-160 * n // 441))  # float32 ceil
    for n in (1, 441, 22051, 441_000, tricky):
        expected = audio_f.resample(torch.zeros(n), 44100, 16000).shape[-1]
        assert resampled_length(n, 44100, 16000) == expected, n


def test_second_run_changes_nothing(desed: tuple[Path, dict[str, list[str]]], tmp_path: Path) -> None:
    root, _ = desed
    out = tmp_path / "out"
    first = prepare_desed(root, out)
    before = snapshot(out)
    second = prepare_desed(root, out)
    assert snapshot(out) == before
    for s1, s2 in zip(first.splits, second.splits, strict=True):
        assert (s2.resampled, s2.copied) == (0, 0)
        assert s2.skipped == s1.resampled + s1.copied > 0
    assert second.tsv_written == () and len(second.tsv_unchanged) == 7


def test_interrupted_output_is_redone_and_partials_removed(desed: tuple[Path, dict[str, list[str]]],
                                                          tmp_path: Path) -> None:
    root, names = desed
    out = tmp_path / "out"
    prepare_desed(root, out)
    target = out / "audio/train/weak_16k" / names["weak_train"][0]
    good = target.read_bytes()
    sf.write(str(target), np.zeros(3000, dtype=np.int16), 16000, subtype="PCM_16")  # cut short by hand
    partial = target.with_name(f".{names['weak_train'][1]}{PARTIAL_TAG}999")
    partial.write_bytes(good[:100])
    report = prepare_desed(root, out)
    weak = by_name(report)["weak_train"]
    assert (weak.resampled, weak.skipped, weak.extra) == (1, 2, ("Yextra_0.000_10.000.wav",))
    assert report.partials_removed == 1 and not partial.exists()
    assert target.read_bytes() == good


def test_output_loads_with_load_split_when_missing_clips_are_dropped(desed: tuple[Path, dict[str, list[str]]],
                                                                     tmp_path: Path) -> None:
    root, names = desed
    kept_out, dropped_out = tmp_path / "kept", tmp_path / "dropped"
    prepare_desed(root, kept_out)
    with pytest.raises(DataError, match=names["weak_train"][3]):
        load_split(kept_out, "weak_train", classes=DESED_CLASSES)

    report = prepare_desed(root, dropped_out, drop_missing=True)
    assert report.complete
    loaded = {name: load_split(dropped_out, name, classes=DESED_CLASSES) for name in by_name(report)}
    assert loaded["weak_train"].filenames == tuple(names["weak_train"][:3])
    assert loaded["unlabelled_train"].filenames == (names["unlabelled_train"][0],)
    assert loaded["validation"].filenames == tuple(names["validation"])
    assert loaded["validation"].durations == {name: 10.0 for name in names["validation"]}
    assert len(loaded["synthetic_train"].events) == 3
    for split in loaded.values():
        for filename in split.filenames:
            assert sf.info(str(split.audio_dir / filename)).samplerate == 16000
    source_tsv = (root / "metadata/validation/validation.tsv").read_bytes()
    assert (dropped_out / "metadata/validation/validation.tsv").read_bytes() == source_tsv  # nothing to drop


def test_dry_run_reports_without_writing(desed: tuple[Path, dict[str, list[str]]], tmp_path: Path) -> None:
    root, _ = desed
    before = snapshot(root)
    report = prepare_desed(root, tmp_path / "out", dry_run=True)
    assert not (tmp_path / "out").exists() and snapshot(root) == before
    assert by_name(report)["weak_train"].resampled == 3 and len(report.tsv_written) == 7


def test_missing_required_split_names_the_paths_and_the_fix(desed: tuple[Path, dict[str, list[str]]],
                                                            tmp_path: Path) -> None:
    root, _ = desed
    for path in (root / "audio/train/weak").iterdir():
        path.unlink()
    (root / "audio/train/weak").rmdir()
    with pytest.raises(DataError) as err:
        prepare_desed(root, tmp_path / "out")
    message = str(err.value)
    assert "split 'weak_train'" in message and "only_real" in message and "--splits" in message
    assert str(root / "audio/train/weak") in message and str(root / "audio/train/weak_16k") in message
    assert "synthetic_train" not in message and not (tmp_path / "out").exists()

    report = prepare_desed(root, tmp_path / "out", splits=["validation"], dry_run=True)
    assert [s.name for s in report.splits] == ["validation"]
    with pytest.raises(DataError, match="split 'strong_train'.*only_strong"):
        prepare_desed(root, tmp_path / "out", splits=["strong_train"], dry_run=True)
    with pytest.raises(ConfigError, match="did you mean 'weak_train'"):
        prepare_desed(root, splits=["weak_trian"])


def test_bad_tsv_row_names_file_and_line_before_writing(desed: tuple[Path, dict[str, list[str]]],
                                                        tmp_path: Path) -> None:
    root, _ = desed
    tsv = root / "metadata/train/weak.tsv"
    lines = tsv.read_text().splitlines()
    lines[2] = lines[2].split("\t")[0] + "\tDgo"
    tsv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"weak\.tsv:3: unknown label 'Dgo' \(did you mean 'Dog'\?\)"):
        prepare_desed(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_differing_existing_tsv_is_never_overwritten(desed: tuple[Path, dict[str, list[str]]],
                                                     tmp_path: Path) -> None:
    root, _ = desed
    existing = tmp_path / "out/metadata/train/weak.tsv"
    write_text(existing, ["filename\tevent_labels", "Yother.wav\tDog"])
    with pytest.raises(DataError, match="never overwrites metadata"):
        prepare_desed(root, tmp_path / "out")
    assert existing.read_text() == "filename\tevent_labels\nYother.wav\tDog\n"
    assert not (tmp_path / "out/audio").exists()


def test_in_place_writes_16k_twins_beside_the_download(desed: tuple[Path, dict[str, list[str]]]) -> None:
    root, _ = desed
    tsv_before = (root / "metadata/train/synthetic21_train/soundscapes.tsv").read_bytes()
    report = prepare_desed(root, None, splits=["synthetic_train", "validation"])
    splits = by_name(report)
    assert splits["synthetic_train"].resampled == 2
    assert (splits["validation"].copied, splits["validation"].skipped) == (0, 3)  # already 16 kHz in place
    assert report.tsv_written == () and len(report.tsv_unchanged) == 3
    assert (root / "metadata/train/synthetic21_train/soundscapes.tsv").read_bytes() == tsv_before
    assert len(load_split(root, "synthetic_train", classes=DESED_CLASSES)) == 2
    with pytest.raises(ConfigError, match="--out DIR"):
        prepare_desed(root, root, drop_missing=True)


@pytest.mark.slow
def test_process_pool_writes_the_same_bytes(desed: tuple[Path, dict[str, list[str]]], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = desed
    prepare_desed(root, tmp_path / "serial", workers=1)
    monkeypatch.setattr(resample_audio, "CHUNK_CLIPS", 3)  # several chunks, so the pool is used
    calls: list[tuple[int, int]] = []
    prepare_desed(root, tmp_path / "pool", workers=2, progress=lambda done, total: calls.append((done, total)))
    serial, pool = snapshot(tmp_path / "serial"), snapshot(tmp_path / "pool")
    assert {k: v[0] for k, v in serial.items()} == {k: v[0] for k, v in pool.items()}
    assert calls[0] == (0, 10) and calls[-1] == (10, 10) and len(calls) == 5
    assert not any(os.path.basename(k).startswith(".") for k in pool)



def test_an_empty_recording_is_unreadable_like_a_broken_one(desed: tuple[Path, dict[str, list[str]]],
                                                            tmp_path: Path) -> None:
    root, names = desed
    empty = names["unlabelled_train"][0]
    write_wav(root / "audio/train/unlabel_in_domain" / empty, frames=0)  # a header and no samples
    unlabelled = by_name(prepare_desed(root, tmp_path / "out"))["unlabelled_train"]
    assert set(unlabelled.unreadable) == {empty, names["unlabelled_train"][1]}
    assert unlabelled.resampled == 0 and not (unlabelled.out_audio_dir / empty).exists()

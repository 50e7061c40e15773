from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.fetch.score_tables import read_score_tables
from reports.stats.bootstrap import (
    SOURCE_COLUMN,
    BootstrapResult,
    paired_clip_bootstrap,
)

CLIPS = [f"clip{i:02d}" for i in range(30)]


def table(values: dict[str, float], frames: int = 3) -> pd.DataFrame:
    """A per-clip score table with `frames` rows per clip; column `Dog` holds the clip's value."""
    return pd.DataFrame([{"filename": clip, "onset": k * 0.5, "offset": (k + 1) * 0.5, "Dog": value}
                         for clip, value in values.items() for k in range(frames)])


def mean_dog(frame: pd.DataFrame) -> float:
    """A clip-set statistic: the mean over clips of the clip's mean Dog score."""
    return float(frame.groupby("filename")["Dog"].mean().mean())


def reference_bootstrap(tables_a: list[pd.DataFrame], tables_b: list[pd.DataFrame], statistic, n_resamples: int,
                        seed: int) -> list[float]:
    """The obvious version: draw clip indices, rebuild each table clip by clip, average the pair differences."""
    rng = np.random.default_rng(seed)
    clips = sorted(tables_a[0]["filename"].unique())
    diffs = []
    for _ in range(n_resamples):
        draw = rng.integers(0, len(clips), len(clips))
        diffs.append(float(np.mean([statistic(_resample(b, clips, draw)) - statistic(_resample(a, clips, draw))
                                    for a, b in zip(tables_a, tables_b)])))
    return diffs


def _resample(frame: pd.DataFrame, clips: list[str], draw: np.ndarray) -> pd.DataFrame:
    parts, seen = [], {}
    for i in draw:
        k = seen.get(i, 0)
        seen[i] = k + 1
        parts.append(frame[frame["filename"] == clips[i]].assign(filename=f"{clips[i]}#{k}"))
    return pd.concat(parts, ignore_index=True)


def test_matches_the_reference_resampling() -> None:
    rng = np.random.default_rng(0)
    a = table(dict(zip(CLIPS, rng.uniform(0, 1, len(CLIPS)))))
    b = table(dict(zip(CLIPS, rng.uniform(0, 1, len(CLIPS)) + 0.1)))
    result = paired_clip_bootstrap([a], [b], mean_dog, n_resamples=40, seed=3)
    draws = reference_bootstrap([a], [b], mean_dog, 40, seed=3)
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(np.quantile(draws, [0.025, 0.975])))
    assert result.diff == pytest.approx(mean_dog(b) - mean_dog(a))
    assert (result.n_clips, result.n_resamples) == (30, 40)


def test_detects_a_shift_and_not_its_absence() -> None:
    rng = np.random.default_rng(1)
    base = dict(zip(CLIPS, rng.uniform(0, 1, len(CLIPS))))
    shifted = {clip: value + 0.05 + rng.normal(0, 0.02) for clip, value in base.items()}
    noise = {clip: value + rng.normal(0, 0.02) for clip, value in base.items()}
    seeds_a = [table(base), table({c: v + 0.01 for c, v in base.items()})]
    up = paired_clip_bootstrap(seeds_a, [table(shifted), table({c: v + 0.01 for c, v in shifted.items()})],
                               mean_dog, n_resamples=100)
    flat = paired_clip_bootstrap(seeds_a, [table(noise), table({c: v + 0.01 for c, v in noise.items()})],
                                 mean_dog, n_resamples=100)
    assert isinstance(up, BootstrapResult)
    assert up.ci_low > 0.03 and up.ci_high < 0.07
    assert up.p_value == pytest.approx(2 / 101)  # the smallest p 100 resamples can give: no resample crossed 0
    assert flat.ci_low < 0 < flat.ci_high and flat.p_value > 0.05


def test_statistic_sees_unique_clip_ids_and_their_source() -> None:
    seen: list[pd.DataFrame] = []

    def record(frame: pd.DataFrame) -> float:
        seen.append(frame)
        return 0.0

    small = table({"x": 1.0, "y": 2.0}, frames=2)
    paired_clip_bootstrap([small], [small], record, n_resamples=5, seed=0)
    for frame in seen:
        assert len(frame) == 4  # two draws of two-row clips
        assert set(frame[SOURCE_COLUMN]) <= {"x", "y"}
        ids = frame.drop_duplicates("filename")
        assert len(ids) == 2 and all("#" in name for name in ids["filename"])


def test_inputs_are_checked() -> None:
    a = table({"x": 1.0, "y": 2.0})
    with pytest.raises(ValueError, match="covers other clips than table 0: missing \\['y'\\], extra \\['z'\\]"):
        paired_clip_bootstrap([a], [table({"x": 1.0, "z": 2.0})], mean_dog, n_resamples=2)
    with pytest.raises(ValueError, match="expected the same number"):
        paired_clip_bootstrap([a, a], [a], mean_dog)
    with pytest.raises(ValueError, match="expected a clip id column 'filename'"):
        paired_clip_bootstrap([a.rename(columns={"filename": "clip"})], [a], mean_dog)


def test_read_score_tables(tmp_path: Path) -> None:
    for clip in ("b", "a"):
        (tmp_path / f"{clip}.tsv").write_text("onset\toffset\tDog\n0.0\t0.5\t0.25\n", encoding="utf-8")
    frame = read_score_tables(list(tmp_path.glob("*.tsv")))
    assert list(frame.columns) == ["filename", "onset", "offset", "Dog"]
    assert list(frame["filename"]) == ["a", "b"]

"""Frame-score files (sed_scores_eval's format, one `<clip>.tsv` per clip) read into one long table."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

CLIP_COLUMN = "filename"


def read_score_tables(paths: Sequence[str], *, clip_column: str = CLIP_COLUMN) -> pd.DataFrame:
    """One long table of sed_scores_eval score files (`scores/<split>/<clip>.tsv`), the clip id from the name."""
    frames = []
    for path in sorted(paths, key=str):
        frame = pd.read_csv(path, sep="\t")
        name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
        frame.insert(0, clip_column, name.removesuffix(".tsv"))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[clip_column])
    return pd.concat(frames, ignore_index=True)

"""What a run's output folder holds, by name: importable without the trainer (and torch), e.g. by a Ray worker
before it trains."""
from __future__ import annotations

LAST_DIR = "last"
BEST_FILE = "best_model.pt"
SCORES_DIR = "scores"  # frame-level scores of the reported model: scores/<split>/<audio_id>.tsv
PSD_ROC_DIR = "psd_roc"  # the reported model's PSD-ROC per scenario: psd_roc/<psds1|psds2>.tsv (efpr, tpr)
REFERENCE_DIR = "reference"  # the test split's labels: reference/<split>/{ground_truth,durations}.tsv
# the reported model's unfiltered frame scores on the selection and the test split: raw_scores/<split>/<id>.tsv
RAW_SCORES_DIR = "raw_scores"
ARTIFACT_DIRS = (SCORES_DIR, PSD_ROC_DIR, REFERENCE_DIR, RAW_SCORES_DIR)  # what a tracker stores of a finished run

"""SED metrics: frame-score post-processing, sed_scores_eval inputs, PSDS / F1 scores."""

"""Third-party notices a user cannot act on are filtered by their text; everything else still shows."""
from __future__ import annotations

import logging
import os
import warnings

import pytest

from studies.quiet import (
    PKG_RESOURCES_WARNING,
    RAY_TOKEN_LOGGER,
    RAY_TOKEN_NOTICE,
    TUNE_UNREPORTED_LOGGER,
    TUNE_UNREPORTED_NOTICE,
    quiet_third_party,
)


def test_only_the_named_notices_are_filtered(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    logger = logging.getLogger(RAY_TOKEN_LOGGER)
    monkeypatch.setattr(logger, "filters", [])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_third_party()
        quiet_third_party()  # idempotent
        warnings.warn(f"{PKG_RESOURCES_WARNING} as an API. See https://setuptools.pypa.io", UserWarning, stacklevel=2)
        warnings.warn("something else is deprecated", UserWarning, stacklevel=2)
    assert [str(w.message) for w in seen] == ["something else is deprecated"]
    assert os.environ["PYTHONWARNINGS"] == f"ignore:{PKG_RESOURCES_WARNING}:UserWarning"  # Ray workers inherit it
    assert len(logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=RAY_TOKEN_LOGGER):
        logger.warning(f"{RAY_TOKEN_NOTICE}. Set RAY_AUTH_MODE=disabled to opt out.")
        logger.warning("Token authentication is disabled for this Ray cluster. Anyone with network access ...")
    assert [r.getMessage()[:40] for r in caplog.records] == ["Token authentication is disabled for thi"]


def test_tunes_list_of_trials_a_stopped_study_never_started_is_dropped_and_any_other_cause_shown(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger(TUNE_UNREPORTED_LOGGER)
    monkeypatch.setattr(logger, "filters", [])
    quiet_third_party()
    quiet_third_party()
    assert len(logger.filters) == 1
    unstarted = ("- run_trial_1_00000: FileNotFoundError('Could not fetch metrics for run_trial_1_00000: both "
                 "result.json and progress.csv were not found at /w/ray_results/s/run_trial_1_00000')")
    other = "- run_trial_1_00001: PermissionError('/w/ray_results/s/run_trial_1_00001/result.json')"
    with caplog.at_level(logging.WARNING, logger=TUNE_UNREPORTED_LOGGER):
        logger.warning(f"{TUNE_UNREPORTED_NOTICE}2 trial(s):\n{unstarted}\n{unstarted.replace('00000', '00002')}")
        logger.warning(f"{TUNE_UNREPORTED_NOTICE}2 trial(s):\n{unstarted}\n{other}")
    assert [r.getMessage().splitlines()[-1] for r in caplog.records] == [other]

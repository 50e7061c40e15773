"""Property tests of the study YAML loader: no study file makes `load_study` fail with anything but a ConfigError
(a SedStudyError) whose message starts with the file's path."""
from __future__ import annotations

import itertools
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sed_core.errors import ConfigError, SedStudyError
from studies.definition import load_study

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_counter = itertools.count()

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=10),
                    st.sampled_from(["tiny", "attention", "max", "full_factorial", "leave_one_out", "psds1",
                                     "one_factor_at_a_time", "baseline", "all", "choice", "uniform"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=10)
FACTOR_NAMES = st.sampled_from(["model.pooling", "model.cnn.activation", "training.mixup.probability", "seed",
                                "model.rnn.num_layers", "model.nope", "", "model", "training.optimizer.lr"])
LEVELS = st.one_of(st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=6), st.dictionaries(
    FACTOR_NAMES, SCALARS, max_size=2), max_size=2), SCALARS)
DESIGN = st.fixed_dictionaries(
    {"factors": st.dictionaries(FACTOR_NAMES, LEVELS, max_size=3)},
    optional={"type": st.sampled_from(["full_factorial", "one_factor_at_a_time", "leave_one_out", "x"]),
              "baseline": st.dictionaries(FACTOR_NAMES, SCALARS, max_size=2),
              "exclude": st.lists(st.dictionaries(FACTOR_NAMES, SCALARS, max_size=2), max_size=2),
              "ablated": st.dictionaries(FACTOR_NAMES, SCALARS, max_size=2)})
TUNING = st.fixed_dictionaries(
    {"space": st.dictionaries(FACTOR_NAMES, st.fixed_dictionaries(
        {"distribution": st.sampled_from(["uniform", "loguniform", "int", "choice", "x"])},
        optional={"low": SCALARS, "high": SCALARS, "values": st.lists(SCALARS, max_size=3)}), max_size=2),
     "num_samples": st.integers(-1, 3)},
    optional={"cells": st.one_of(st.text(max_size=6), st.lists(st.text(max_size=6), max_size=2)),
              "metric": SCALARS, "asha": VALUES, "max_concurrent": SCALARS})
STUDY = st.fixed_dictionaries(
    {"name": st.one_of(st.just("probe"), st.text(max_size=8)), "design": st.one_of(DESIGN, VALUES),
     "seeds": st.one_of(st.lists(st.integers(-2, 3), max_size=3), VALUES)},
    optional={"experiment": st.one_of(st.just({"preset": "tiny"}), st.dictionaries(st.sampled_from(
                  ["preset", "model", "training", "data", "seed"]), VALUES, max_size=3)),
              "objective": st.one_of(st.fixed_dictionaries({"metric": SCALARS, "mode": SCALARS}), VALUES),
              "metrics": st.one_of(st.lists(SCALARS, max_size=2), VALUES),
              "resources": st.dictionaries(st.sampled_from(["cpu", "gpu", "effective_tflops", "x"]), SCALARS),
              "failures": st.dictionaries(st.sampled_from(["max_retries", "oom_retry"]), SCALARS),
              "synthetic_data": VALUES, "tuning": st.one_of(TUNING, VALUES), "extra": VALUES})


def check(tmp_path: Path, text: str) -> str:
    """"loaded", or "refused" with a ConfigError naming the file; anything else raised fails the test."""
    path = tmp_path / f"study-{next(_counter)}.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_study(path, workdir=tmp_path)
    except ConfigError as err:
        assert str(err).startswith(f"{path}: "), str(err)
        return "refused"
    return "loaded"


@SETTINGS
@given(study=STUDY)
@example(study={"name": "probe", "design": {"factors": {"model.pooling": ["attention", ["max"]]}}, "seeds": [1]})
@example(study={"name": "probe", "design": {"factors": {"model.pooling": [{"a": 1}]}}, "seeds": [1]})
@example(study={"name": "probe", "design": {"factors": {"model.pooling": []}}, "seeds": [1]})
@example(study={"name": "probe", "design": {"factors": {}}, "seeds": [1]})
@example(study={"name": "probe", "design": {"factors": {"": [1]}}, "seeds": [1]})
@example(study={"name": "probe", "design": {"factors": {"model.pooling": {"x": {"": 1}}}}, "seeds": [1]})
@example(study={"name": "probe", "design": {"factors": {"model.pooling": ["max"]}, "baseline": {"model.pooling": []}},
                "seeds": [1]})
def test_study_files_raise_only_config_errors_naming_the_file(tmp_path: Path, study):
    assert check(tmp_path, yaml.safe_dump(study)) in ("loaded", "refused")


@SETTINGS
@given(text=st.one_of(st.text(max_size=80), st.sampled_from(
    ["name: probe\ndesign: {factors: {model.pooling: [max]}}\nseeds: [2001-13-40]", "- 1", "", "name: [",
     "name: probe\nseeds: [1]\ndesign:\n  factors:\n    ? [a]\n    : [1]"])))
def test_any_text_as_a_study_raises_only_config_errors(tmp_path: Path, text: str):
    assert check(tmp_path, text) in ("loaded", "refused")


def test_config_error_is_a_project_error():
    assert issubclass(ConfigError, SedStudyError)

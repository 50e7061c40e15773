from __future__ import annotations

import dataclasses

import pandas as pd

from reports.fetch.load import load_study
from reports.stats.model_roles import reported_model, reported_model_sentence, teacher_statement
from reports.tables.recipe import NOT_RECORDED, recipe_table


def _rows(table) -> dict[str, str]:
    return {row[2].text: row[1].text for row in table.rows}


def test_recipe_shows_shared_values_factors_and_what_varies() -> None:
    recipe = pd.DataFrame({"preset": ["quick", "quick", "quick"], "training.optimizer.lr": ["0.001", "0.01", "0.001"],
                           "data.root": ["a", "b", None], "training.epochs": ["5", "5", None]})
    rows = _rows(recipe_table(recipe, ["training.optimizer.lr"], [2, 1, 2], ["synthetic", "synthetic"]))
    assert rows["preset"] == "quick"
    assert rows["training.optimizer.lr"] == "varies: a factor of the design"
    assert rows["data.root"] == "varies: a, b (not recorded on some runs)"
    assert rows["training.epochs"] == "varies: 5 (not recorded on some runs)"
    assert rows["evaluation.report_model"] == NOT_RECORDED
    assert (rows["sedstudy.data.kind"], rows["seed"]) == ("synthetic", "1, 2")


def test_teacher_statement_follows_the_numbers_and_the_steps(store) -> None:
    runs = load_study(store.uri, "quickstart")
    assert reported_model(runs) == "student"
    assert teacher_statement(runs).startswith(
        "The teacher is nearly untrained (it scores far below the student and its EMA has seen fewer steps than it "
        "averages over): its mean psds1 is 0.075 against the student's 0.375 (20% of it) over 10 finished trials.")

    closer = runs.roles.assign(**{"teacher/psds1": runs.roles["student/psds1"] - 0.01})
    young = dataclasses.replace(runs, roles=closer)  # 660 steps of an EMA that averages over 1,000
    assert teacher_statement(young).startswith(
        "The teacher is nearly untrained (its EMA has seen fewer steps than it averages over): its mean psds1 is "
        "0.365 against the student's 0.375 (97% of it)")
    trained = dataclasses.replace(young, recipe=runs.recipe.assign(**{"training.steps_per_epoch": "500"}))
    assert teacher_statement(trained) == (
        "The teacher: its mean psds1 is 0.365 against the student's 0.375 (97% of it) over 10 finished trials. Its "
        "EMA (decay 0.999) averages the student's weights over about 1,000 steps; it has seen 5,000 steps.")

    natural = runs.recipe.assign(**{"training.steps_per_epoch": "null"})  # as many batches as the data allow
    unknown_steps = dataclasses.replace(runs, recipe=natural)
    assert teacher_statement(unknown_steps).split(". ")[1] == (
        "Its EMA (decay 0.999) averages the student's weights over about 1,000 steps (the runs record neither their "
        "steps per epoch nor their clips per split, so the steps it has seen are not known)")
    coverage = ("synthetic_train 400 / 400, strong_train 300, weak_train 1,200, unlabelled_train 2,400, "
                "synthetic_validation 100 / 100, validation 1,093 / 1,168")
    from_data = dataclasses.replace(runs, recipe=natural, provenance=runs.provenance.assign(coverage=coverage))
    assert "it has seen 660 steps, fewer than that" in teacher_statement(from_data)  # 10 x min(400 // 6, 300 // 3, ..)
    long_run = dataclasses.replace(runs, recipe=runs.recipe.assign(**{"training.steps_per_epoch": "500"}))
    assert teacher_statement(long_run).startswith("The teacher is nearly untrained (it scores far below the student):")
    two_phase = runs.recipe.assign(**{"model.backbone.name": "beats", "model.backbone.freeze.schedule": "two_phase",
                                      "model.backbone.freeze.phase1_epochs": "6"})
    restarted = dataclasses.replace(runs, recipe=two_phase.assign(**{"training.steps_per_epoch": "500"}))
    assert "it has seen 2,000 steps." in teacher_statement(restarted)  # (10 - 6) x 500: phase 2 only

    unlogged = dataclasses.replace(runs, roles=runs.roles.assign(**{"teacher/psds1": float("nan")}))
    assert teacher_statement(unlogged) == "No finished trial logs both `student/psds1` and `teacher/psds1`."
    neither = dataclasses.replace(runs, roles=runs.roles.assign(**{"student/psds1": float("nan"),
                                                                   "teacher/psds1": float("nan")}))
    assert teacher_statement(neither) == ("The trials log no per-model values of psds1 "
                                          "(`student/psds1`, `teacher/psds1`).")
    default = dataclasses.replace(runs, recipe=runs.recipe.drop(columns="evaluation.report_model"))
    assert reported_model(default) == "student (not recorded; the default)"


def test_runs_that_chose_their_epoch_on_the_test_split_are_named(store) -> None:
    runs = load_study(store.uri, "quickstart")
    chosen = runs.recipe.assign(**{"evaluation.select_on_test_split": ["true"] + ["false"] * (len(runs.recipe) - 1)})
    sentence = reported_model_sentence(dataclasses.replace(runs, recipe=chosen))
    assert sentence.endswith(f"⚠ 1 of {len(chosen)} runs chose their best epoch on the test split itself "
                             "(evaluation.select_on_test_split: true, set on purpose): their numbers are optimistic, "
                             "since the epoch was picked for scoring well on the same clips; do not compare them "
                             "with numbers selected on another split.")
    assert "⚠" not in reported_model_sentence(runs)

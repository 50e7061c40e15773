"""Property: a field the schema accepts where it is written changes the trained model, and one it refuses does not.

Hypothesis draws a tiny config over the choices that make fields conditional (backbone or none, fusion, freeze
schedule and its group cap, backbone mode, mixup on or off, GRU depth, warm-up, consistency weight), then one field
and another value for it. The field written with that value is either accepted, and then training the two configs
for five epochs gives different models, or refused as having no effect, and then it gives the same model (the
config built without the check). "The model" is what the student and teacher output on fixed clips after the
training, with the training losses: what a trial's numbers are computed from.

Two conditional fields act only through the validation split (``evaluation.select_on_test_split``, and
``freeze.phase2_init``, which picks the best or last phase-1 epoch): their tests are in test_config and
test_freeze. The CNN's value settings under ``ssl_only`` are left out: they still draw from the random stream
(initialisation, dropout masks), so a change acts like a change of seed, which a trained-model comparison cannot
tell from an effect; test_acting checks that the fusion's output ignores the CNN. A study whose design is accepted
trains no two cells alike: the second property.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sed_core.config import config_from_dict
from sed_core.config.acting import InertFieldError
from sed_core.config.loading import apply_overrides, flatten
from sed_core.errors import ConfigError
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer
from studies.definition import load_study

EPOCHS = 5
# field -> the two values a draw chooses between (the config's own value is replaced by the other one)
FIELDS: dict[str, tuple[Any, Any]] = {
    "model.fusion.heads": (4, 2),
    "model.backbone.mode": ("train", "eval"),
    "model.backbone.drop_path": (None, 0.3),
    "model.backbone.alignment": ("nearest", "linear"),
    "model.backbone.freeze.trainable_groups": (None, 2),
    "model.backbone.freeze.lr": (3.5e-4, 1e-2),
    "model.backbone.freeze.layer_decay": (0.5, 0.9),
    "model.backbone.freeze.phase1_epochs": (1, 2),
    "model.backbone.freeze.unfreeze_every": (1, 2),
    "training.mixup.alpha": (0.2, 2.0),
    "training.mixup.label_mode": ("soft", "hard"),
    "training.mixup.branches": ("all", "cnn_only"),
    "model.rnn.dropout_recurrent": (0.0, 0.5),
    "training.rampup_epochs": (1, 3),
    # unconditional fields act everywhere
    "model.dropout": (0.0, 0.3),
    "training.optimizer.lr": (1e-3, 1e-2),
}


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A tiny config (dotted path -> value) over the choices that decide which fields act."""
    backbone = draw(st.sampled_from(["none", "asit"]))
    out: dict[str, Any] = {"preset": "tiny", "training.epochs": EPOCHS, "training.steps_per_epoch": 1,
                           "model.rnn.num_layers": draw(st.sampled_from([1, 2])),
                           "training.mixup.probability": draw(st.sampled_from([0.0, 1.0])),
                           "training.lr_warmup": draw(st.booleans()),
                           "training.consistency_weight": draw(st.sampled_from([0.0, 2.0]))}
    if backbone == "none":
        return out
    schedule = draw(st.sampled_from(["frozen", "full", "two_phase", "gradual"]))
    out |= {"model.backbone.name": "asit", "model.backbone.variant": "tiny", "model.backbone.init": "random",
            "model.fusion.name": draw(st.sampled_from(["concat", "sum", "gated", "cross_attention"])),
            "model.backbone.mode": draw(st.sampled_from(["train", "eval"])),
            "model.backbone.freeze.schedule": schedule}
    if schedule != "frozen":
        out["model.backbone.freeze.trainable_groups"] = draw(st.sampled_from([None, 1, 3]))
    if schedule == "two_phase":
        out |= {"model.backbone.freeze.phase1_epochs": 1, "model.backbone.freeze.phase2_init": "last"}
    if schedule == "gradual":
        out["model.backbone.freeze.unfreeze_every"] = 1
    return out


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    return apply_overrides({}, list(flat.items()))


def trained(raw: dict[str, Any], data: Path, out: Path) -> tuple[list[float], torch.Tensor]:
    """Train ``raw`` (unchecked) for EPOCHS one-step epochs; its losses and its models' outputs on fixed clips."""
    config = config_from_dict(nested({**raw, "data.root": str(data), "output_dir": str(out)}), recorded=True)
    trainer = Trainer(config, NullReporter())
    losses = []
    while trainer.epoch < EPOCHS:
        trainer.start_epoch()
        losses.append(trainer.run_epoch()["train/loss"])
        trainer.epoch += 1
    torch.manual_seed(123)
    clips = torch.randn(2, int(config.data.sample_rate * config.data.clip_seconds)) * 0.1
    outputs = []
    with torch.no_grad():
        for model in (trainer.student, trainer.teacher):
            model.eval()
            result = model(model.inputs(clips))
            outputs += [result.strong.flatten(), result.weak.flatten()]
    return losses, torch.cat(outputs)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(base=configs(), field=st.sampled_from(sorted(FIELDS)))
def test_an_accepted_field_changes_the_model_and_a_refused_one_does_not(base: dict, field: str, tiny_dataset: Path,
                                                                        tmp_path: Path):
    first, second = FIELDS[field]
    try:
        current = flatten(config_from_dict(nested(base), recorded=True))[field]
    except ConfigError:  # a combination the schema refuses for another reason: not this property's subject
        return
    changed = {**base, field: first if current != first else second}
    try:
        config_from_dict(nested(changed))
        accepted = True
    except InertFieldError as err:
        assert err.field == field, err
        accepted = False
    except ConfigError:  # the new value is invalid for another reason (a bound, a divisibility)
        return
    event("accepted" if accepted else "refused")
    losses_a, outputs_a = trained(base, tiny_dataset, tmp_path / "a")
    losses_b, outputs_b = trained(changed, tiny_dataset, tmp_path / "b")
    same = losses_a == losses_b and torch.equal(outputs_a, outputs_b)
    assert same != accepted, (f"{field}: {'accepted' if accepted else 'refused'} but the trained model is "
                              f"{'the same' if same else 'different'}; config {changed}")


FACTORS = {"model.fusion.name": ["concat", "cross_attention"], "model.fusion.heads": [2, 4],
           "model.backbone.freeze.schedule": ["frozen", "gradual"], "model.backbone.freeze.unfreeze_every": [1, 2],
           "training.mixup.probability": [0.0, 0.5], "training.mixup.alpha": [0.2, 1.0],
           "model.pooling": ["attention", "max"], "model.backbone.mode": ["train", "eval"],
           "model.backbone.drop_path": [0.0, 0.2]}


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(sorted(FACTORS)), min_size=1, max_size=3, unique=True))
def test_an_accepted_study_trains_no_two_cells_alike(names: list[str], tmp_path: Path):
    experiment = {"preset": "tiny", "training": {"epochs": 10},
                  "model": {"backbone": {"name": "asit", "variant": "tiny", "init": "random"}}}
    if "model.fusion.name" not in names:
        experiment["model"]["fusion"] = {"name": "concat"}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "drawn", "experiment": experiment, "seeds": [1],
                                    "design": {"factors": {n: FACTORS[n] for n in names}}}, sort_keys=False))
    try:
        study = load_study(path)
    except InertFieldError:
        event("refused")
        return
    event("accepted")  # a factor with no effect in some cell: refused, the first property's subject
    ids = [t.trial_id for t in study.trials]
    assert len(set(ids)) == len(ids), [t.cell.id for t in study.trials]

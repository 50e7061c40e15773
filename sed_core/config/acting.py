"""Which config fields act. A field that the config's other choices make irrelevant is *inert*: writing it is
refused (an ablation must not count a dead key as a factor, DESIGN.md flaw 9), and a trial's identity leaves it
out. Defaults still fill every field, so a config a user writes stays short.

Each ``Condition`` names the fields it governs, when they act, who reads them and what makes them inert in a
given config. ``FUSION_FIELD_READERS`` and ``FUSIONS_WITHOUT_CNN`` say which registered fusions read which
``model.fusion`` field and which ignore the CNN branch; a plug-in fusion that reads ``heads`` adds its name there
(tests check both tables against the fusion modules).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sed_core.config.schema import ExperimentConfig
from sed_core.errors import ConfigError

FUSION_FIELD_READERS: dict[str, set[str]] = {"heads": {"cross_attention"}}
FUSIONS_WITHOUT_CNN: set[str] = {"ssl_only"}  # the fused features ignore the CNN branch (its shape still counts)

BACKBONE_FIELDS = ("model.backbone.variant", "model.backbone.init", "model.backbone.checkpoint",
                   "model.backbone.mode", "model.backbone.drop_path", "model.backbone.alignment",
                   "model.backbone.ssast_pooling",
                   "model.backbone.freeze.*", "training.mixup.branches")
# the CNN's layers and the log-mel settings that only shape its values (not the frame grid the SSL branch is
# aligned to): inert when the fusion ignores the CNN branch
CNN_VALUE_FIELDS = ("model.cnn.activation", "model.cnn.kernel_size", "model.cnn.dropout", "model.cnn.batchnorm_eps",
                    "model.cnn.batchnorm_momentum", "features.window", "features.amin", "features.db_min",
                    "features.db_max", "features.scaler", "features.f_min", "features.f_max")


@dataclass(frozen=True)
class Condition:
    """``fields`` (dotted leaves; ``section.*`` covers a section) act only where ``acts(config)`` holds."""

    fields: tuple[str, ...]
    acts: Callable[[ExperimentConfig], bool]
    reader: str  # who reads them: "read only by fusion cross_attention"
    state: Callable[[ExperimentConfig], str]  # why they do not act here: "model.fusion.name is 'concat'"
    fix: str  # what to write instead

    def covers(self, path: str) -> bool:
        return any(path == f or (f.endswith(".*") and path.startswith(f[:-1])) for f in self.fields)


def _fusion_reads(field: str) -> Condition:
    readers = FUSION_FIELD_READERS[field]
    return Condition(
        (f"model.fusion.{field}",), lambda c: c.model.fusion.name in FUSION_FIELD_READERS[field],
        f"read only by model.fusion.name {' or '.join(sorted(readers))}",
        lambda c: f"model.fusion.name is {c.model.fusion.name!r}",
        f"remove it, or set it together with model.fusion.name: {sorted(readers)[0]}")


def _freeze(c: ExperimentConfig) -> str:
    return f"model.backbone.freeze.schedule is {c.model.backbone.freeze.schedule!r}"


CONDITIONS: tuple[Condition, ...] = (
    Condition(BACKBONE_FIELDS, lambda c: c.model.backbone.enabled,
              "read only when the model has an SSL backbone", lambda c: "model.backbone.name is 'none'",
              "remove it, or set it only where model.backbone.name names a backbone"),
    _fusion_reads("heads"),
    Condition(CNN_VALUE_FIELDS, lambda c: c.model.fusion.name not in FUSIONS_WITHOUT_CNN,
              "read only by fusions that use the CNN branch",
              lambda c: f"model.fusion.name is {c.model.fusion.name!r}, which ignores the CNN's values",
              "remove it, or set it only with a fusion that uses the CNN branch"),
    Condition(("model.backbone.ssast_pooling",), lambda c: c.model.backbone.name == "ssast",
              "read only by the ssast backbone", lambda c: f"model.backbone.name is {c.model.backbone.name!r}",
              "remove it, or set it together with model.backbone.name: ssast"),
    Condition(("model.backbone.checkpoint",), lambda c: c.model.backbone.init == "checkpoint",
              "read only when model.backbone.init is 'checkpoint'", lambda c: "model.backbone.init is 'random'",
              "remove it, or set model.backbone.init: checkpoint"),
    Condition(("model.backbone.drop_path",), lambda c: c.model.backbone.mode == "train",
              "read only when the backbone runs in training mode (stochastic depth is off in eval mode)",
              lambda c: "model.backbone.mode is 'eval'", "remove it, or set model.backbone.mode: train"),
    Condition(("model.backbone.freeze.trainable_groups", "model.backbone.freeze.lr",
               "model.backbone.freeze.layer_decay"),
              lambda c: c.model.backbone.freeze.schedule != "frozen",
              "read only by the schedules that train the backbone (full, two_phase, gradual)", _freeze,
              "remove it, or set it only where the schedule trains the backbone"),
    Condition(("model.backbone.freeze.layer_decay",),
              lambda c: c.model.backbone.freeze.trainable_groups != 1,
              "read only when two or more backbone groups train (it scales each group below the top one)",
              lambda c: "model.backbone.freeze.trainable_groups is 1",
              "remove it, or train more groups"),
    Condition(("model.backbone.freeze.phase1_epochs", "model.backbone.freeze.phase2_init"),
              lambda c: c.model.backbone.freeze.schedule == "two_phase",
              "read only by the two_phase schedule", _freeze,
              "remove it, or set it together with model.backbone.freeze.schedule: two_phase"),
    Condition(("model.backbone.freeze.unfreeze_every",),
              lambda c: c.model.backbone.freeze.schedule == "gradual",
              "read only by the gradual schedule", _freeze,
              "remove it, or set it together with model.backbone.freeze.schedule: gradual"),
    Condition(("training.mixup.alpha", "training.mixup.label_mode", "training.mixup.branches"),
              lambda c: c.training.mixup.probability > 0,
              "read only when mixup is on", lambda c: "training.mixup.probability is 0",
              "remove it, or set it only where training.mixup.probability > 0"),
    Condition(("model.rnn.dropout_recurrent",), lambda c: c.model.rnn.num_layers > 1,
              "read only between stacked GRU layers", lambda c: "model.rnn.num_layers is 1",
              "remove it, or set model.rnn.num_layers > 1"),
    Condition(("training.rampup_epochs",),
              lambda c: c.training.lr_warmup or c.training.consistency_weight > 0,
              "read only by the learning-rate warm-up and the consistency-weight ramp-up",
              lambda c: "training.lr_warmup is false and training.consistency_weight is 0",
              "remove it, or turn the warm-up or the consistency loss on"),
    Condition(("evaluation.select_on_test_split",),
              lambda c: c.evaluation.selection_split == c.evaluation.test_split,
              "read only when evaluation.selection_split is the test split",
              lambda c: f"evaluation.selection_split ({c.evaluation.selection_split!r}) is not the test split "
                        f"({c.evaluation.test_split!r})",
              "remove it"),
)


class InertFieldError(ConfigError):
    """A written field has no effect in its config; ``field`` is its dotted path, ``detail`` the message without
    its source."""

    def __init__(self, message: str, field: str, detail: str) -> None:
        super().__init__(message)
        self.field = field
        self.detail = detail


def inert_reason(config: ExperimentConfig, path: str) -> Condition | None:
    """The first condition under which ``path`` does not act in ``config`` (None: it acts)."""
    return next((c for c in conditions_covering(path) if not c.acts(config)), None)


@functools.lru_cache(maxsize=4096)
def conditions_covering(path: str) -> tuple[Condition, ...]:
    """The conditions that govern ``path``, in order (a trial's identity asks this of each of its ~100 fields)."""
    return tuple(c for c in CONDITIONS if c.covers(path))


def inert_fields(config: ExperimentConfig, paths: Iterable[str]) -> list[str]:
    """The ``paths`` (dotted leaves) that do not act in ``config``, in the order given."""
    return [p for p in paths if inert_reason(config, p) is not None]


def explain_inert(config: ExperimentConfig, path: str) -> str:
    condition = inert_reason(config, path)
    assert condition is not None, path
    return f"{path}: has no effect here: it is {condition.reader}, and {condition.state(config)}; {condition.fix}"


def check_written_fields_act(config: ExperimentConfig, written: Iterable[str], *, source: str) -> None:
    """Refuse the first ``written`` field (a dotted leaf the user set) that does not act in ``config``."""
    for path in written:
        if inert_reason(config, path) is not None:
            detail = explain_inert(config, path)
            raise InertFieldError(f"{source}: {detail}", path, detail)

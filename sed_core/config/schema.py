"""The experiment schema. Defaults are the paper configuration (DCASE 2022 baseline CRNN, ASiT-CRNN training).

One name per concept: a field name here is the constructor argument it feeds and the MLflow param key
(dotted path, e.g. ``model.cnn.activation``).
"""
from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sed_core.desed_classes import DESED_CLASSES

MAX_SEED = 2**32 - 1  # numpy's generators take 0 .. 2**32 - 1; torch and Python's take at least that


class Section(BaseModel):
    """A frozen config section that rejects unknown keys, and booleans where a number is expected (pydantic
    would read ``epochs: true`` as 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            accepted = set(typing.get_args(annotation)) | {annotation}
            if bool not in accepted and accepted & {int, float}:
                raise ValueError(f"expected a number, got the boolean {str(value).lower()}; write the number")
        return value


class BatchComposition(Section):
    """Clips per training step from each source; 0 leaves a source out."""

    synthetic_train: int = Field(8, ge=0)
    strong_train: int = Field(8, ge=0)
    weak_train: int = Field(16, ge=0)
    unlabelled_train: int = Field(16, ge=0)

    def sources(self) -> dict[str, int]:
        return {name: n for name, n in self.model_dump().items() if n > 0}


class DataConfig(Section):
    root: Path = Path("data/synth/demo")
    sample_rate: int = Field(16000, gt=0)
    clip_seconds: float = Field(10.0, gt=0)
    classes: tuple[str, ...] = DESED_CLASSES
    batch: BatchComposition = BatchComposition()
    check_audio_files: bool = True


class FeaturesConfig(Section):
    """Log-mel front end of the DCASE baseline (torchaudio MelSpectrogram, amplitude dB, instance min-max)."""

    n_fft: int = Field(2048, gt=0)
    win_length: int = Field(2048, gt=0)
    hop_length: int = Field(256, gt=0)
    n_mels: int = Field(128, gt=0)
    f_min: float = Field(0.0, ge=0)
    f_max: float = Field(8000.0, gt=0)
    window: Literal["hamming", "hann"] = "hamming"
    amin: float = Field(1e-5, gt=0)
    db_min: float = -50.0
    db_max: float = 80.0
    scaler: Literal["instance_minmax", "none"] = "instance_minmax"

    @model_validator(mode="after")
    def _check(self) -> FeaturesConfig:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length <= n_fft must hold, but got win_length={self.win_length}, n_fft={self.n_fft}")
        if self.f_min >= self.f_max:
            raise ValueError(f"f_min < f_max must hold, but got f_min={self.f_min}, f_max={self.f_max}")
        if self.db_min >= self.db_max:
            raise ValueError(f"db_min < db_max must hold, but got db_min={self.db_min}, db_max={self.db_max}")
        return self


class CNNConfig(Section):
    channels: tuple[int, ...] = (16, 32, 64, 128, 128, 128, 128)
    kernel_size: int = Field(3, gt=0)
    pooling: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2))
    activation: str = "cg"  # ASiT-CRNN's context gating; "glu" is the DCASE 2022 baseline
    dropout: float = Field(0.5, ge=0, lt=1)
    batchnorm_eps: float = 0.001
    batchnorm_momentum: float = 0.99

    @model_validator(mode="after")
    def _check(self) -> CNNConfig:
        if len(self.pooling) != len(self.channels):
            raise ValueError(
                f"one pooling (time, freq) per conv block must be given, but got {len(self.channels)} channels "
                f"and {len(self.pooling)} poolings"
            )
        return self


class RNNConfig(Section):
    hidden_size: int = Field(128, gt=0)
    num_layers: int = Field(2, gt=0)
    dropout_recurrent: float = Field(0.0, ge=0, lt=1)


class FreezeConfig(Section):
    """When and how the backbone trains. Layer groups come from the backbone (embeddings, blocks, final norm).

    ``full`` (the reference's asit_crnn.yaml: ``tfm_trainable_layers: 12``) trains the top ``trainable_groups``
    groups from the first step; ``frozen`` never trains the backbone; ``two_phase`` trains ``phase1_epochs``
    frozen, then restarts from the phase-1 weights with the backbone unfrozen (fresh optimizer and warm-up);
    ``gradual`` unfreezes one more group from the top every ``unfreeze_every`` epochs.
    The top trainable group learns at ``lr``, each group below at ``layer_decay`` times the one above.
    """

    schedule: Literal["frozen", "full", "two_phase", "gradual"] = "full"
    trainable_groups: int | None = Field(12, ge=1)  # None: every group; the reference: 12 of ASiT's 14
    lr: float = Field(3.5e-4, gt=0)
    layer_decay: float = Field(0.5, gt=0, le=1)
    phase1_epochs: int = Field(100, gt=0)
    phase2_init: Literal["best", "last"] = "best"
    unfreeze_every: int = Field(5, gt=0)

    @field_validator("trainable_groups", mode="before")
    @classmethod
    def _some_group(cls, value: Any) -> Any:
        if value == 0 and not isinstance(value, bool):
            raise ValueError("0 trains no backbone group, which is the frozen schedule; set "
                             "model.backbone.freeze.schedule: frozen, or train 1 or more groups (null: all)")
        return value


class BackboneConfig(Section):
    """The SSL branch. ``name: none`` is the plain CRNN (then ``model.fusion.name`` must be ``cnn_only``)."""

    name: str = "asit"
    variant: str = "base"
    init: Literal["checkpoint", "random"] = "checkpoint"
    checkpoint: Path | None = None
    # the reference runs the ViT in training mode (drop-path on, flaw 8); "eval" keeps it deterministic
    mode: Literal["train", "eval"] = "train"
    # stochastic depth over the blocks; null: the backbone's official fine-tuning value (ASiT 0.1, MAE-AST 0)
    drop_path: float | None = Field(None, ge=0, lt=1)
    # token -> CNN frame mapping by timestamps over the valid span ("nearest" is the paper's NNI);
    # "padded_linear" is the reference code's linear interpolation over the padded span (flaw 3)
    alignment: Literal["nearest", "linear", "padded_linear"] = "nearest"
    # SSAST's frequency pooling: the reference wrapper's AvgPool2d([8, 1], padding=[1, 0]), i.e. the sum of
    # frequency patches 0..6 over 8 (what the paper's backbone comparison ran), or the mean of all 8 patches
    ssast_pooling: Literal["reference_avgpool", "mean"] = "reference_avgpool"
    freeze: FreezeConfig = FreezeConfig()

    @property
    def enabled(self) -> bool:
        return self.name != "none"


class FusionConfig(Section):
    """How aligned SSL embeddings join the CNN features before the RNN (``concat`` is the paper's)."""

    name: str = "concat"
    heads: int = Field(4, gt=0)  # cross_attention only


class ModelConfig(Section):
    name: str = "crnn"
    cnn: CNNConfig = CNNConfig()
    rnn: RNNConfig = RNNConfig()
    dropout: float = Field(0.5, ge=0, lt=1)
    pooling: str = "attention"
    backbone: BackboneConfig = BackboneConfig()
    fusion: FusionConfig = FusionConfig()

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if not self.backbone.enabled and self.fusion.name != "cnn_only":
            raise ValueError(f"fusion {self.fusion.name!r} fuses SSL embeddings but model.backbone.name is none; "
                             f"set model.fusion.name=cnn_only for the CRNN baseline, or choose a backbone")
        if self.backbone.enabled and self.fusion.name == "cnn_only":
            raise ValueError(f"fusion 'cnn_only' uses no backbone but model.backbone.name is "
                             f"{self.backbone.name!r}; set model.backbone.name=none")
        return self


class MixupConfig(Section):
    """Mixup of the DCASE baseline: applied to a batch with this probability, per label kind ("soft" labels)."""

    probability: float = Field(0.5, ge=0, le=1)
    alpha: float = Field(0.2, gt=0)
    label_mode: Literal["soft", "hard"] = "soft"
    # the paper mixes every input branch; "cnn_only" is the reference code's (flaw 2: labels mixed, SSL not)
    branches: Literal["all", "cnn_only"] = "all"


class OptimizerConfig(Section):
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)


class TrainingConfig(Section):
    epochs: int = Field(200, gt=0)
    optimizer: OptimizerConfig = OptimizerConfig()
    rampup_epochs: float = Field(50, ge=0)
    lr_warmup: bool = True
    consistency_weight: float = Field(2.0, ge=0)
    ema_decay: float = Field(0.999, gt=0, lt=1)
    # DESED_task runs the teacher in training mode (dropout on) and its EMA skips BatchNorm buffers
    teacher_mode: Literal["train", "eval"] = "train"
    ema_buffers: bool = False
    mixup: MixupConfig = MixupConfig()
    gradient_clip: float = Field(5.0, ge=0)
    # reuse a frozen, deterministic backbone's outputs across epochs and trials when a cache folder is given
    embedding_cache: Literal["auto", "off"] = "auto"
    steps_per_epoch: int | None = Field(None, gt=0)
    num_threads: int | None = Field(None, gt=0)
    # DataLoader worker processes; "auto": 0 on a CPU (workers would compete with the compute), up to 4 on a GPU
    loader_workers: Annotated[int, Field(ge=0)] | Literal["auto"] = "auto"
    device: str = "auto"  # "auto" (a CUDA GPU when visible), "cpu", "cuda", "cuda:N"
    # autocast for the forward passes. fp32 is DESED_task's CRNN; fp16_encoder autocasts the SSL encoder alone to
    # fp16 (the rest in fp32), as the ASiT-CRNN reference code does on a GPU; bf16 / fp16 autocast the whole model
    precision: Literal["fp32", "bf16", "fp16", "fp16_encoder"] = "fp32"
    deterministic: bool = False  # torch.use_deterministic_algorithms: a nondeterministic CUDA op raises, named


class PSDSConfig(Section):
    dtc_threshold: float = Field(ge=0, le=1)
    gtc_threshold: float = Field(ge=0, le=1)
    cttc_threshold: float | None = Field(default=None, ge=0, le=1)
    alpha_ct: float = Field(ge=0)
    alpha_st: float = Field(ge=0)
    max_efpr: float = Field(100.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> PSDSConfig:
        if self.alpha_ct == 0 and self.cttc_threshold is not None:
            raise ValueError("cttc_threshold must be null when alpha_ct is 0 (sed_scores_eval refuses it)")
        if self.alpha_ct > 0 and self.cttc_threshold is None:
            raise ValueError("cttc_threshold is required when alpha_ct > 0")
        return self


class EvaluationConfig(Section):
    median_window: int = Field(7, gt=0)
    median_mode: Literal["reflect", "nearest"] = "reflect"  # scipy's default, as the DCASE baseline calls it
    threshold: float = Field(0.5, gt=0, lt=1)
    psds1: PSDSConfig = PSDSConfig(dtc_threshold=0.7, gtc_threshold=0.7, alpha_ct=0.0, alpha_st=1.0)
    psds2: PSDSConfig = PSDSConfig(
        dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5, alpha_st=1.0
    )
    collar_onset: float = Field(0.2, ge=0)
    collar_offset: float = Field(0.2, ge=0)
    collar_offset_rate: float = Field(0.2, ge=0)
    selection_split: str = "synthetic_validation"
    selection_metric: Literal["intersection_f1", "collar_f1", "psds1", "psds2"] = "intersection_f1"
    test_split: str = "validation"
    # choosing the best epoch on the split that is then reported inflates the result; refused unless said here
    select_on_test_split: bool = False
    report_model: Literal["student", "teacher"] = "student"
    batch_size: int = Field(16, gt=0)
    # processes that compute the metrics (sed_scores_eval's num_jobs; the values do not depend on it);
    # "auto": 1 for a model on a CPU, up to 4 for a model on a GPU, whose run has cores to spare
    num_jobs: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"

    @model_validator(mode="after")
    def _check(self) -> EvaluationConfig:
        if self.selection_split == self.test_split and not self.select_on_test_split:
            raise ValueError(
                f"selection_split is the test split {self.test_split!r}: the best epoch would be chosen on the clips "
                f"it is then scored on, which inflates the result; select on another split (e.g. "
                f"synthetic_validation), or set evaluation.select_on_test_split: true to do it on purpose (the "
                f"run and its report then say so)")
        return self


# Where and how a run executes, never what it computes: not part of a trial's identity, and a resume may change
# them (training data order is drawn in the main process, so loader workers do not change any result, the
# metrics are sums over clips whatever the number of processes computing them, and the embedding cache serves
# a frozen, deterministic backbone's outputs equal to those it would compute).
EXECUTION_FIELDS = ("output_dir", "training.device", "training.loader_workers", "evaluation.num_jobs",
                    "training.embedding_cache")


class ExperimentConfig(Section):
    """One training run, fully specified."""

    preset: str = "paper"
    seed: int = Field(42, ge=0, le=MAX_SEED)
    output_dir: Path = Path("runs/train")
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        if self.features.f_max > self.data.sample_rate / 2:
            raise ValueError(
                f"features.f_max <= sample_rate / 2 must hold, but got f_max={self.features.f_max}, "
                f"data.sample_rate={self.data.sample_rate}"
            )
        freq_pool = 1
        for _, f in self.model.cnn.pooling:
            freq_pool *= f
        freeze = self.model.backbone.freeze
        if self.model.backbone.enabled and freeze.schedule == "two_phase" \
                and freeze.phase1_epochs >= self.training.epochs:
            raise ValueError(
                f"model.backbone.freeze.phase1_epochs < training.epochs must hold for two_phase (training.epochs "
                f"counts both phases), but got phase1_epochs={freeze.phase1_epochs}, epochs={self.training.epochs}"
            )
        if self.model.backbone.enabled and freeze.schedule == "gradual" \
                and freeze.unfreeze_every >= self.training.epochs:
            raise ValueError(
                f"model.backbone.freeze.unfreeze_every < training.epochs must hold for gradual (the first group "
                f"unfreezes at epoch unfreeze_every), but got unfreeze_every={freeze.unfreeze_every}, "
                f"epochs={self.training.epochs}; lower it, or use the frozen schedule"
            )
        if self.features.n_mels % freq_pool:
            raise ValueError(
                f"features.n_mels must be divisible by the CNN's frequency pooling ({freq_pool}), "
                f"but got n_mels={self.features.n_mels}"
            )
        return self

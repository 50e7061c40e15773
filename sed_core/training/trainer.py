"""``fit(config, reporter)``: one mean-teacher training run, resumable from its last epoch."""
from __future__ import annotations

import copy
import json
import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader

from sed_core.config.loading import flatten
from sed_core.config.schema import EXECUTION_FIELDS, ExperimentConfig
from sed_core.data.clip_ends import FeatureFrame
from sed_core.data.dataset import Batch, ClipDataset, MultiSourceBatchSampler, collate
from sed_core.data.labels import LabelEncoder
from sed_core.data.splits import check_scorable, load_split
from sed_core.errors import CheckpointError
from sed_core.models.build import build_model
from sed_core.models.embedding_cache import EmbeddingCache, backbone_namespace, cache_blockers
from sed_core.models.freeze_schedule import apply_freeze
from sed_core.models.output import SEDOutput
from sed_core.models.pretrained import load_pretrained, pretrained_checkpoint
from sed_core.torch_files import load_tensors
from sed_core.training.checkpoint import has_training_state, load_training_state, save_file, save_training_state
from sed_core.training.device import (
    autocast,
    check_precision,
    grad_scaler,
    loader_workers,
    released_gpu_memory,
    resolve_device,
    set_deterministic,
)
from sed_core.training.evaluate import (
    ArtifactDirs,
    evaluate,
    predict,
    score_roles,
    write_frame_scores,
    write_reference,
)
from sed_core.training.mean_teacher import (
    consistency_loss,
    ema_decay_at,
    ema_update,
    sigmoid_rampup,
)
from sed_core.training.mixup import mixup
from sed_core.training.parameter_groups import parameter_groups
from sed_core.training.reporter import NullReporter, Reporter
from sed_core.training.required import required_splits
from sed_core.training.run_files import (  # noqa: F401 - the names a run's folder holds, read here by callers
    ARTIFACT_DIRS,
    BEST_FILE,
    LAST_DIR,
    PSD_ROC_DIR,
    RAW_SCORES_DIR,
    REFERENCE_DIR,
    SCORES_DIR,
)

logger = logging.getLogger(__name__)

RESUMABLE_CHANGES = ("training.epochs", *EXECUTION_FIELDS)  # a resume may change these


@dataclass
class FitResult:
    metrics: dict[str, float]
    best_epoch: int
    output_dir: Path
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_datasets(config: ExperimentConfig, model: nn.Module) -> tuple[dict[str, ClipDataset], LabelEncoder]:
    """Every split the run needs, validated before any compute: training sources, selection and test splits."""
    dcfg = config.data
    n_samples = int(round(dcfg.clip_seconds * dcfg.sample_rate))
    encoder = LabelEncoder(dcfg.classes, model.frame_hop_s, model.output_frames(n_samples))
    datasets = {}
    for name in required_splits(config):
        split = load_split(Path(dcfg.root), name, classes=dcfg.classes, check_audio=dcfg.check_audio_files,
                           frame=FeatureFrame.of(config))
        datasets[name] = ClipDataset(split, encoder, sample_rate=dcfg.sample_rate, n_samples=n_samples)
    for name, role in scored_splits(config).items():
        check_scorable(datasets[name].split, dcfg.classes, role=role, root=Path(dcfg.root))
    return datasets, encoder


def scored_splits(config: ExperimentConfig) -> dict[str, str]:
    """{split: role} of the splits a run computes PSDS or F1 on: the selection split and the test split."""
    ecfg = config.evaluation
    roles = {ecfg.selection_split: "the selection split"}
    roles[ecfg.test_split] = "the test split" if ecfg.test_split not in roles else "the selection and test split"
    return roles


class Trainer:
    """Holds student, teacher, optimizer and data for one run; ``fit`` drives it."""

    def __init__(self, config: ExperimentConfig, reporter: Reporter, *,
                 embedding_cache_dir: Path | None = None) -> None:
        self.config = config
        self.reporter = reporter
        tcfg = config.training
        if tcfg.num_threads:
            torch.set_num_threads(tcfg.num_threads)
        pretrained_checkpoint(config)  # a missing backbone checkpoint is refused before any data is read
        self.device = resolve_device(tcfg.device)
        check_precision(tcfg.precision, self.device)
        set_deterministic(tcfg.deterministic)
        seed_everything(config.seed)
        self.student = build_model(config)
        self.datasets, self.encoder = make_datasets(config, self.student)
        load_pretrained(self.student, config)
        self.student.to(self.device)
        self.cache = self._embedding_cache(embedding_cache_dir)
        self.teacher = self._teacher_of(self.student)
        self.scaler = grad_scaler(self.device, tcfg.precision)
        sources = config.data.batch.sources()
        train_sets = [self.datasets[name] for name in sources]
        self.sampler = MultiSourceBatchSampler([len(d) for d in train_sets], list(sources.values()),
                                               seed=config.seed, steps_per_epoch=tcfg.steps_per_epoch)
        workers = loader_workers(tcfg.loader_workers, self.device)
        self.loader = DataLoader(ConcatDataset(train_sets), batch_sampler=self.sampler, collate_fn=collate,
                                 num_workers=workers, persistent_workers=workers > 0,
                                 pin_memory=self.device.type == "cuda")
        self.optimizer = self._make_optimizer(epoch=0)
        self.phase_start_step = 0
        self.generator = torch.Generator().manual_seed(config.seed)
        self.bce = nn.BCELoss()
        self.step = 0
        self.epoch = 0
        self.best_score = -math.inf
        self.best_epoch = -1
        self.history: list[dict[str, float]] = []
        self.output_dir = Path(config.output_dir)

    def _embedding_cache(self, root: Path | None) -> EmbeddingCache | None:
        """Attach a shared cache of backbone outputs when the run's backbone is frozen and deterministic."""
        if root is None or self.config.training.embedding_cache == "off" or cache_blockers(self.config):
            return None
        clip_samples = int(round(self.config.data.clip_seconds * self.config.data.sample_rate))
        cache = EmbeddingCache(root, backbone_namespace(self.student.backbone, clip_samples,
                                                        self.student.frequency_pooling,
                                                        encoder_fp16=self.student.encoder_fp16))
        self.student.embedding_cache = cache
        logger.info("frozen backbone: its outputs are cached in %s", cache.dir)
        return cache

    @staticmethod
    def _teacher_of(student: nn.Module) -> nn.Module:
        teacher = copy.deepcopy(student)
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher

    def _make_optimizer(self, epoch: int) -> torch.optim.Optimizer:
        """Adam over the groups of ``epoch``'s phase (SED model, then backbone layers with decayed lr)."""
        ocfg = self.config.training.optimizer
        apply_freeze(self.student, self.config, epoch)
        return torch.optim.Adam(parameter_groups(self.student, self.config, epoch), lr=ocfg.lr, betas=ocfg.betas,
                                weight_decay=ocfg.weight_decay)

    @property
    def rampup_steps(self) -> float:
        return self.config.training.rampup_epochs * len(self.sampler)

    def start_epoch(self) -> None:
        """Freeze or unfreeze backbone groups for this epoch; at a two-phase switch, restart from phase 1."""
        freeze = self.config.model.backbone.freeze
        switching = (self.config.model.backbone.enabled and freeze.schedule == "two_phase"
                     and self.epoch == freeze.phase1_epochs)
        if switching:
            self._start_phase_two(freeze.phase2_init)
        apply_freeze(self.student, self.config, self.epoch)

    def _start_phase_two(self, init: str) -> None:
        """Phase 2 of two_phase: phase-1 weights (best or last), teacher = student, new optimizer and warm-up."""
        if init == "best":
            best = load_tensors(self.output_dir / BEST_FILE, "the best phase-1 checkpoint")
            self.student.load_state_dict(best["student"])
        self.teacher = self._teacher_of(self.student)
        self.optimizer = self._make_optimizer(self.epoch)
        self.phase_start_step = self.step
        self.best_score, self.best_epoch = -math.inf, -1
        logger.info("two_phase: backbone unfrozen at epoch %d from the phase-1 %s weights", self.epoch, init)

    def train_step(self, batch: Batch) -> dict[str, float]:
        tcfg = self.config.training
        phase_step = self.step - self.phase_start_step
        scale = sigmoid_rampup(phase_step, self.rampup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * scale if tcfg.lr_warmup else group["base_lr"]
        self.student.train()
        self.teacher.train(tcfg.teacher_mode == "train")
        batch = batch.to(self.device)
        with torch.no_grad():
            inputs = self.student.inputs(batch.audio)
        strong_mask, weak_mask = batch.mask["strong"], batch.mask["weak"]
        strong_t, weak_t = batch.strong, batch.weak
        mcfg = tcfg.mixup
        if mcfg.probability > 0 and float(torch.rand(1, generator=self.generator)) < mcfg.probability:
            inputs, strong_t, weak_t = self._mix(inputs, strong_t, weak_t, strong_mask, weak_mask)
        with autocast(self.device, tcfg.precision):
            student = self.student(inputs).float()
        if not bool(torch.isfinite(student.strong).all() & torch.isfinite(student.weak).all()):  # one device sync
            raise FloatingPointError(f"the student's output is not finite at step {self.step} (epoch {self.epoch}): "
                                     "the training diverged; lower training.optimizer.lr "
                                     "or set training.gradient_clip")
        with torch.no_grad(), autocast(self.device, tcfg.precision):
            teacher = self.teacher(inputs).float()
        loss, loss_strong, loss_weak, loss_cons = self.losses(student, teacher, strong_t, weak_t, strong_mask,
                                                              weak_mask, scale)
        values = torch.stack([loss.detach(), loss_strong.detach(), loss_weak.detach(), loss_cons.detach()]).tolist()
        if not math.isfinite(values[0]):
            raise FloatingPointError(f"training loss is {values[0]} at step {self.step} (epoch {self.epoch})")
        self.optimizer.zero_grad(set_to_none=True)
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        self.update_weights()
        ema_update(self.teacher, self.student, ema_decay_at(phase_step, tcfg.ema_decay), buffers=tcfg.ema_buffers)
        self.step += 1
        return {**dict(zip(("loss", "loss_strong", "loss_weak", "loss_consistency"), values)),
                "consistency_weight": tcfg.consistency_weight * scale}

    def losses(self, student: SEDOutput, teacher: SEDOutput, strong_t: torch.Tensor, weak_t: torch.Tensor,
               strong_mask: torch.Tensor, weak_mask: torch.Tensor, rampup: float
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Total loss, then its strong, weak and consistency parts (the consistency weight follows the ramp-up)."""
        loss_strong = self.bce(student.strong[strong_mask], strong_t[strong_mask])
        loss_weak = self.bce(student.weak[weak_mask], weak_t[weak_mask])
        loss_cons = consistency_loss(student.strong, student.weak, teacher.strong, teacher.weak)
        loss = loss_strong + loss_weak + self.config.training.consistency_weight * rampup * loss_cons
        return loss, loss_strong, loss_weak, loss_cons

    def update_weights(self) -> None:
        """Clip the gradients of the loss just backpropagated and step the optimizer (fp16: the scaled gradients
        are unscaled before clipping, and a step with inf/NaN gradients is skipped)."""
        clip = self.config.training.gradient_clip
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if clip > 0:
            nn.utils.clip_grad_norm_(self.student.parameters(), clip)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()

    def _mix(self, inputs: dict[str, torch.Tensor], strong_t: torch.Tensor, weak_t: torch.Tensor,
             strong_mask: torch.Tensor, weak_mask: torch.Tensor
             ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Mix strong-labelled rows among themselves and weak rows among themselves (DCASE baseline)."""
        mcfg = self.config.training.mixup
        mixed_names = list(inputs) if mcfg.branches == "all" else ["mel"]
        inputs = {k: v.clone() for k, v in inputs.items()}
        strong_t, weak_t = strong_t.clone(), weak_t.clone()
        for mask, targets in ((strong_mask, strong_t), (weak_mask, weak_t)):
            if int(mask.sum()) < 2:
                continue
            part = {k: inputs[k][mask] for k in mixed_names}
            mixed, mixed_targets = mixup(part, targets[mask], alpha=mcfg.alpha, generator=self.generator,
                                         label_mode=mcfg.label_mode)
            for k in mixed_names:
                inputs[k][mask] = mixed[k]
            targets[mask] = mixed_targets
        return inputs, strong_t, weak_t

    def run_epoch(self) -> dict[str, float]:
        self.sampler.set_epoch(self.epoch)
        sums: dict[str, float] = {}
        n = 0
        step_done = getattr(self.reporter, "step_done", None)  # optional hook (reporter.StepReporter)
        steps = len(self.sampler)
        for batch in self.loader:
            for k, v in self.train_step(batch).items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
            if step_done is not None:
                step_done(self.epoch, n, steps)
        out = {f"train/{k}": v / max(n, 1) for k, v in sums.items()}
        if self.cache is not None:
            out |= {"cache/computed": float(self.cache.computed), "cache/served": float(self.cache.served)}
        return out

    def selection_metrics(self) -> dict[str, float]:
        ecfg = self.config.evaluation
        dataset = self.datasets[ecfg.selection_split]
        model = self.student if ecfg.report_model == "student" else self.teacher
        metrics, _ = evaluate(model, dataset, ecfg, metrics=(ecfg.selection_metric,))
        return {f"val/{ecfg.selection_split}/{k}": v for k, v in metrics.items()}

    def state(self) -> dict:
        return {
            "student": self.student.state_dict(), "teacher": self.teacher.state_dict(),
            "optimizer": self.optimizer.state_dict(), "step": self.step, "epoch": self.epoch,
            "phase_start_step": self.phase_start_step,
            "best_score": self.best_score, "best_epoch": self.best_epoch,
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            **({"cuda_rng": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {}),
            "history": self.history, "config": json.dumps(flatten(self.config), sort_keys=True),
            **({"scaler": self.scaler.state_dict()} if self.scaler is not None else {}),
        }

    def load_state(self, state: dict) -> None:
        saved = json.loads(state["config"])
        current = flatten(self.config)
        changed = sorted(k for k in set(saved) | set(current)
                         if saved.get(k) != current.get(k) and k not in RESUMABLE_CHANGES)
        if changed:
            raise CheckpointError(f"cannot resume from {self.output_dir / LAST_DIR}: it was trained with another "
                                  f"config ({', '.join(changed)}); use another output_dir or --restart")
        self.student.load_state_dict(state["student"])
        self.teacher.load_state_dict(state["teacher"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.phase_start_step = state.get("phase_start_step", 0)
        self.optimizer = self._make_optimizer(max(self.epoch - 1, 0))  # the groups the saved state was made with
        self.optimizer.load_state_dict(state["optimizer"])
        self.best_score, self.best_epoch = state["best_score"], state["best_epoch"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.history = state["history"]
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])

    def fit(self, *, resume: bool = True) -> FitResult:
        last = self.output_dir / LAST_DIR
        if resume and has_training_state(last):
            self.load_state(load_training_state(last))
            logger.info("resumed from %s at epoch %d", last, self.epoch)
            for metrics in self.history:  # replayed: a reporter that lost some (a killed driver) gets them again
                self.reporter.report(metrics, step=int(metrics["epoch"]))
        ecfg = self.config.evaluation
        selection_key = f"val/{ecfg.selection_split}/{ecfg.selection_metric}"
        while self.epoch < self.config.training.epochs:
            self.start_epoch()
            metrics = {**self.run_epoch(), **self.selection_metrics(), "epoch": float(self.epoch)}
            if metrics[selection_key] > self.best_score:
                self.best_score, self.best_epoch = metrics[selection_key], self.epoch
                self.output_dir.mkdir(parents=True, exist_ok=True)
                save_file({"student": self.student.state_dict(), "teacher": self.teacher.state_dict(),
                           "epoch": self.epoch}, self.output_dir / BEST_FILE, what="the best model")
            self.history.append(metrics)
            self.epoch += 1
            save_training_state(last, self.state())
            self.reporter.checkpoint(last)
            self.reporter.report(metrics, step=self.epoch - 1)
        final = self.final_metrics()
        self.reporter.report(final, step=self.config.training.epochs - 1)
        return FitResult(final, self.best_epoch, self.output_dir, self.history)

    def final_metrics(self) -> dict[str, float]:
        """The best-epoch student and teacher on the test split; the reported model's values under plain names,
        with its per-class PSDS (`psds1/class/<label>`). The reported model's frame scores, PSD-ROC curves and
        the split's reference labels are written beside the checkpoint (ARTIFACT_DIRS)."""
        ecfg = self.config.evaluation
        best = load_tensors(self.output_dir / BEST_FILE, "the best epoch's checkpoint",
                            fix="run again: the trial resumes from its last epoch and writes it anew")
        split = ecfg.test_split
        out_dirs = ArtifactDirs(scores=self.output_dir / SCORES_DIR / split, psd_roc=self.output_dir / PSD_ROC_DIR,
                                reference=self.output_dir / REFERENCE_DIR / split,
                                raw_scores=self.output_dir / RAW_SCORES_DIR / split)
        model = copy.deepcopy(self.student)
        scored = score_roles(model, best, self.datasets[split], ecfg, out_dirs)
        if ecfg.selection_split != split:  # what a post-processing stage tunes on, never the test split
            self._write_raw_scores(model, best[ecfg.report_model], ecfg.selection_split)
        return {"best_epoch": float(best["epoch"]), **scored}

    def _write_raw_scores(self, model: nn.Module, weights: dict, split: str) -> None:
        """The reported model's unfiltered frame scores and the labels of ``split``, beside the test split's."""
        ecfg = self.config.evaluation
        model.load_state_dict(weights)
        dataset = self.datasets[split]
        preds = predict(model, dataset, batch_size=ecfg.batch_size, median_window=1)  # a window of 1: unfiltered
        write_frame_scores(preds, dataset.encoder.classes, model.frame_hop_s,
                           self.output_dir / RAW_SCORES_DIR / split)
        write_reference(dataset, preds, self.output_dir / REFERENCE_DIR / split)


def fit(config: ExperimentConfig, reporter: Reporter | None = None, *, resume: bool = True,
        embedding_cache_dir: Path | None = None) -> FitResult:
    """Train one run of ``config``; resumes from ``output_dir/last`` when it exists and ``resume`` is set.

    ``embedding_cache_dir``: where frozen-backbone outputs are shared between runs (see models.embedding_cache).
    """
    if config.evaluation.select_on_test_split:
        logger.warning("evaluation.select_on_test_split: the best epoch is chosen on the test split %r, which is "
                       "then scored; its numbers are optimistic", config.evaluation.test_split)
    trainer = Trainer(config, reporter or NullReporter(), embedding_cache_dir=embedding_cache_dir)
    with released_gpu_memory(trainer.device):
        try:
            return trainer.fit(resume=resume)
        finally:
            del trainer  # the last reference to its models and optimizer: their GPU memory can be given back

"""FLOPs of one clip through a config's model, counted on the meta device (shapes only: no weights, no compute).

torch.utils.flop_counter counts the student's forward and backward and the teacher's forward, with the model in
its costliest phase (the last epoch's freeze state). The front ends (log-mel, the backbone's own features) run on
the CPU on one silent clip, since their buffers are not on the meta device; their cost is not counted, as before.
A GRU is counted in closed form (`CountedGRU`): decomposed, it costs the meta device tens of thousands of Python
dispatches per clip (most of a paper-size count), and its matmul FLOPs are exact in closed form.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sed_core.config.schema import ExperimentConfig
from sed_core.models.build import build_model
from sed_core.models.freeze_schedule import apply_freeze


def architecture_key(config: ExperimentConfig) -> str:
    """Configs with the same key cost the same per clip (model, features, clip length, freeze schedule)."""
    return (config.model.model_dump_json() + config.features.model_dump_json()
            + f"{config.data.clip_seconds}/{config.data.sample_rate}/{config.training.epochs}")


class CountedGRU(nn.Module):
    """Stands in for an ``nn.GRU`` (batch_first) while FLOPs are counted: returns zeros of the GRU's output shape,
    still linked to its input for autograd, and adds the matmul FLOPs the decomposed GRU would count to ``flops``:
    per layer and direction 2BT.3H.I (input) + 2BT.3H.H (hidden) forward; backward the weight gradients, the
    input gradient when the input needs one, and the hidden-state gradient of every step but the first."""

    def __init__(self, gru: nn.GRU) -> None:
        super().__init__()
        self.gru = gru
        self.flops = 0.0

    def _trained(self, kind: str, layer: int, suffix: str) -> bool:
        param = getattr(self.gru, f"{kind}_l{layer}{suffix}", None)
        return param is not None and param.requires_grad

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        gru = self.gru
        assert gru.batch_first and x.dim() == 3, "CountedGRU counts batch-first GRUs on (B, T, D) input"
        batch, steps, _ = x.shape
        dirs, hidden = 2 if gru.bidirectional else 1, gru.hidden_size
        needs_input = x.requires_grad
        grad = torch.is_grad_enabled()
        for layer in range(gru.num_layers):
            width = gru.input_size if layer == 0 else hidden * dirs
            ih, hh = 2 * batch * steps * 3 * hidden * width, 2 * batch * steps * 3 * hidden * hidden
            trained_layer = False
            for suffix in ("", "_reverse")[:dirs]:
                self.flops += ih + hh
                w_ih, w_hh = self._trained("weight_ih", layer, suffix), self._trained("weight_hh", layer, suffix)
                state = (needs_input or w_ih or w_hh or self._trained("bias_ih", layer, suffix)
                         or self._trained("bias_hh", layer, suffix))  # the hidden state needs a gradient
                if grad:
                    self.flops += ih * w_ih + hh * w_hh + ih * needs_input
                    self.flops += 2 * batch * (steps - 1) * 3 * hidden * hidden * state
                trained_layer = trained_layer or state
            needs_input = trained_layer
        link = sum((0 * p.sum() for p in gru.parameters() if p.requires_grad), 0 * x.sum())  # autograd, no FLOPs
        return x.new_zeros(batch, steps, hidden * dirs) + link, None


def count_grus_in_closed_form(model: nn.Module) -> list[CountedGRU]:
    """Replace every nn.GRU of ``model`` by a CountedGRU (the model is a throwaway built for counting)."""
    counted = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.GRU):
                counted.append(CountedGRU(child))
                setattr(parent, name, counted[-1])
    return counted


def clip_flops(config: ExperimentConfig) -> tuple[float, float]:
    """(training FLOPs, inference FLOPs) for one clip: student forward + backward + teacher forward; forward."""
    cfg = config.model_copy(update={"model": config.model.model_copy(update={
        "backbone": config.model.backbone.model_copy(update={"init": "random"})})})
    torch.manual_seed(0)
    model = build_model(cfg, device="meta")
    apply_freeze(model, cfg, epoch=cfg.training.epochs - 1)  # the costliest phase: backbone unfrozen
    n = int(round(cfg.data.clip_seconds * cfg.data.sample_rate))
    with torch.no_grad():
        inputs = {name: torch.empty_like(x, device="meta") for name, x in model.inputs(torch.zeros(1, n)).items()}
    grus = count_grus_in_closed_form(model)
    with FlopCounterMode(display=False) as forward, torch.no_grad():
        model(inputs)
    inference = float(forward.get_total_flops()) + sum(g.flops for g in grus)
    for gru in grus:
        gru.flops = 0.0
    with FlopCounterMode(display=False) as train:
        out = model(inputs)
        (out.strong.sum() + out.weak.sum()).backward()
    return float(train.get_total_flops()) + sum(g.flops for g in grus) + inference, inference

"""training.precision: fp16_encoder runs the SSL encoder alone under fp16 autocast, as the ASiT-CRNN reference code
does on a GPU; the rest of the model stays fp32."""
from __future__ import annotations

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.errors import ConfigError
from sed_core.models import build_model
from sed_core.models.embedding_cache import backbone_namespace
from sed_core.training.device import autocast, check_precision, grad_scaler

ASIT = {"preset": "tiny", "model": {"backbone": {"name": "asit", "variant": "tiny", "init": "random",
                                                 "drop_path": 0.0}, "fusion": {"name": "concat"}}}


def built(precision: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(config_from_dict({**ASIT, "training": {"precision": precision}})).eval()


def test_only_the_encoder_runs_in_fp16() -> None:
    """CPU autocast takes fp16 too, so the rule is checked here; a run asks for a GPU (check_precision)."""
    seen: dict[str, torch.dtype] = {}
    reference, encoder_fp16 = built("fp32"), built("fp16_encoder")
    for name, model in (("fp32", reference), ("fp16_encoder", encoder_fp16)):
        linear = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear))  # LayerNorm stays fp32
        linear.register_forward_hook(lambda module, args, out, name=name: seen.__setitem__(name, out.dtype))
        model.rnn.register_forward_hook(lambda module, args, out, name=name: seen.__setitem__(f"{name} rnn",
                                                                                          out[0].dtype))
    inputs = reference.inputs(torch.randn(2, 64_000))
    with torch.no_grad():
        fp32, fp16 = reference(inputs).strong, encoder_fp16(inputs).strong
    assert seen == {"fp32": torch.float32, "fp32 rnn": torch.float32, "fp16_encoder": torch.float16,
                    "fp16_encoder rnn": torch.float32}
    assert fp16.dtype == torch.float32 and not torch.equal(fp16, fp32)
    assert torch.allclose(fp16, fp32, atol=5e-2)  # the same weights: only the encoder's rounding differs


def test_fp16_encoder_needs_an_encoder_and_a_gpu() -> None:
    with pytest.raises(ConfigError, match="fp16_encoder autocasts the SSL encoder, and this model has none"):
        build_model(config_from_dict({"preset": "tiny", "training": {"precision": "fp16_encoder"}}), device="meta")
    with pytest.raises(ConfigError, match="training.precision: fp16_encoder autocast needs a CUDA GPU"):
        check_precision("fp16_encoder", torch.device("cpu"))
    assert isinstance(autocast(torch.device("cpu"), "fp16_encoder"), type(autocast(torch.device("cpu"), "fp32")))
    assert grad_scaler(torch.device("cpu"), "fp16_encoder") is not None  # its fp16 gradients are loss-scaled


def test_cached_embeddings_of_an_fp16_encoder_are_kept_apart() -> None:
    model = built("fp32")
    assert backbone_namespace(model.backbone, 64_000) != backbone_namespace(model.backbone, 64_000,
                                                                            encoder_fp16=True)

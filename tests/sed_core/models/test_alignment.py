"""FAP and token-to-frame alignment against slow, obvious reference implementations."""
from __future__ import annotations

import math

import pytest
import torch

from sed_core.models.alignment import align, frequency_average
from sed_core.models.backbones.base import TokenGrid, frame_centers, valid_tokens


def slow_nearest(tokens, centers, n_valid, times):
    out = []
    for t in times.tolist():
        best, best_d = 0, math.inf
        for i in range(n_valid):
            d = abs(t - float(centers[i]))
            if d < best_d:
                best, best_d = i, d
        out.append(tokens[:, best])
    return torch.stack(out, dim=1)


def slow_linear(tokens, centers, n_valid, times):
    c = [float(x) for x in centers[:n_valid]]
    out = []
    for t in times.tolist():
        if t <= c[0]:
            out.append(tokens[:, 0])
        elif t >= c[-1]:
            out.append(tokens[:, n_valid - 1])
        else:
            i = max(k for k in range(n_valid - 1) if c[k] <= t)
            w = (t - c[i]) / (c[i + 1] - c[i])
            out.append((1 - w) * tokens[:, i] + w * tokens[:, i + 1])
    return torch.stack(out, dim=1)


def slow_padded_linear(tokens, n_frames):
    """PyTorch's linear, align_corners=False: source = (j + 0.5) * T'/T - 0.5, clamped at 0."""
    n_tokens = tokens.shape[1]
    out = []
    for j in range(n_frames):
        src = max((j + 0.5) * n_tokens / n_frames - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_tokens - 1)
        i1 = min(i0 + 1, n_tokens - 1)
        w = src - i0
        out.append((1 - w) * tokens[:, i0] + w * tokens[:, i1])
    return torch.stack(out, dim=1)


@pytest.fixture()
def asit_like():
    """ASiT's grid for a 10 s clip: 64 tokens of 16 fbank frames (10 ms hop, 25 ms window), 998 real frames."""
    centers = frame_centers(64, 16, 0.010, 0.025)
    grid = TokenGrid(centers, valid_tokens(998, 16, 64))
    cnn_times = (torch.arange(156, dtype=torch.float64) * 4 + 1.5) * 256 / 16000
    torch.manual_seed(0)
    return torch.randn(2, 64, 5, dtype=torch.float64), grid, cnn_times


def test_frequency_average_is_the_mean_over_frequency_patches():
    x = torch.randn(2, 7, 8, 3)
    assert torch.allclose(frequency_average(x), x.mean(dim=2))


def test_asit_grid_has_62_valid_tokens_and_160_ms_steps(asit_like):
    _, grid, _ = asit_like
    assert grid.n_valid == 62
    assert torch.allclose(grid.centers_s[1:] - grid.centers_s[:-1], torch.full((63,), 0.16, dtype=torch.float64))
    assert grid.centers_s[0] == pytest.approx(0.075 + 0.0125)


@pytest.mark.parametrize("mode, reference", [("nearest", slow_nearest), ("linear", slow_linear)])
def test_alignment_matches_the_slow_reference(asit_like, mode, reference):
    tokens, grid, times = asit_like
    expected = reference(tokens, grid.centers_s, grid.n_valid, times)
    assert torch.allclose(align(tokens, grid, times, mode), expected, atol=1e-12)


def test_padded_linear_is_the_reference_codes_interpolation(asit_like):
    tokens, grid, times = asit_like
    ours = align(tokens, grid, times, "padded_linear")
    assert torch.allclose(ours, slow_padded_linear(tokens, 156), atol=1e-12)
    reference_call = torch.nn.functional.interpolate(tokens.transpose(1, 2), scale_factor=156 / 64, mode="linear",
                                                     align_corners=False).transpose(1, 2)
    assert torch.allclose(ours, reference_call, atol=1e-12)


def test_timestamp_alignment_never_uses_padding_tokens(asit_like):
    tokens, grid, times = asit_like
    tokens = tokens.clone()
    tokens[:, grid.n_valid:] = 1e6  # padding tokens
    for mode in ("nearest", "linear"):
        assert align(tokens, grid, times, mode).abs().max() < 1e3


def test_padded_linear_drifts_but_nearest_tracks_time():
    """A token ramp equal to its own timestamp: timestamp alignment reads back each frame's time."""
    centers = frame_centers(64, 16, 0.010, 0.025)
    grid = TokenGrid(centers, valid_tokens(998, 16, 64))
    times = (torch.arange(156, dtype=torch.float64) * 4 + 1.5) * 256 / 16000
    ramp = centers[None, :, None].clone()
    inside = times.clamp(min=float(centers[0]), max=float(centers[61]))
    linear_error = (align(ramp, grid, times, "linear")[0, :, 0] - inside).abs().max()
    nearest_error = (align(ramp, grid, times, "nearest")[0, :, 0] - times).abs()
    padded_error = (align(ramp, grid, times, "padded_linear")[0, :, 0] - times).abs().max()
    assert linear_error < 1e-9
    assert nearest_error[times < float(centers[61])].max() <= 0.08 + 1e-9  # half a token step
    assert padded_error > 0.2  # the reference mapping's drift (DESIGN.md flaw 3)


def test_ssast_reference_pooling_is_the_reference_wrappers_avgpool():
    """SSAST's reference wrapper pools the (B, D, F'=8, T') token map with AvgPool2d([8, 1], padding=[1, 0])."""
    x = torch.randn(2, 5, 8, 6)  # (B, T', F', D)
    reference = torch.nn.AvgPool2d([8, 1], padding=[1, 0])(x.permute(0, 3, 2, 1))  # (B, D, 1, T')
    ours = frequency_average(x, "reference_avgpool")
    assert torch.allclose(ours, reference[:, :, 0].permute(0, 2, 1), atol=1e-7)
    assert torch.allclose(ours, x[:, :, :7].sum(dim=2) / 8)  # frequency patch 7 left out, a zero row averaged in
    assert not torch.allclose(ours, frequency_average(x))


def test_only_ssast_reads_its_pooling_rule():
    from sed_core.config import config_from_dict
    from sed_core.config.acting import InertFieldError
    from sed_core.models import build_model

    ssast = {"preset": "tiny", "model": {"backbone": {"name": "ssast", "variant": "tiny", "init": "random"},
                                         "fusion": {"name": "concat"}}}
    assert build_model(config_from_dict(ssast), device="meta").frequency_pooling == "reference_avgpool"
    ssast["model"]["backbone"]["ssast_pooling"] = "mean"
    assert build_model(config_from_dict(ssast), device="meta").frequency_pooling == "mean"
    ssast["model"]["backbone"]["name"] = "asit"
    with pytest.raises(InertFieldError, match=r"ssast_pooling: has no effect here: it is read only by the ssast"):
        config_from_dict(ssast)

from __future__ import annotations

import torch
import torchaudio

from sed_core.config import config_from_dict
from sed_core.features.logmel import LogMel


def test_paper_front_end_shape_and_scaling():
    cfg = config_from_dict({})
    frontend = LogMel(cfg.features, cfg.data.sample_rate)
    torch.manual_seed(0)
    audio = torch.randn(2, 160_000) * torch.tensor([[0.1], [0.5]])
    feats = frontend(audio)
    assert feats.shape == (2, 128, 626)  # DESED_task: (B, 128, 626) for 10 s at hop 256
    assert frontend.n_frames(160_000) == 626
    for clip in feats:  # per-clip min-max scaling
        assert clip.min().item() == 0.0 and abs(clip.max().item() - 1.0) < 1e-6


def test_front_end_matches_the_baseline_recipe_step_by_step():
    cfg = config_from_dict({})
    frontend = LogMel(cfg.features, cfg.data.sample_rate)
    audio = torch.randn(1, 32_000)
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=2048, win_length=2048, hop_length=256, f_min=0.0,
                                               f_max=8000.0, n_mels=128, window_fn=torch.hamming_window,
                                               wkwargs={"periodic": False}, power=1)(audio)
    db = torchaudio.transforms.AmplitudeToDB(stype="amplitude", top_db=None)
    db.amin = 1e-5
    ref = db(mel).clamp(-50, 80)
    ref = (ref - ref.amin(dim=(1, 2), keepdim=True)) / (ref.amax(dim=(1, 2), keepdim=True)
                                                        - ref.amin(dim=(1, 2), keepdim=True) + 1e-8)
    assert torch.allclose(frontend(audio), ref, atol=1e-5)

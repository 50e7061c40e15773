"""Throwaway plug-ins, one of each kind a contributor adds (docs/ARCHITECTURE.md, "Adding a part"): a backbone, a
fusion, a study design and a report section, each registered by a fixture for one test and removed after it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from reports.sections.registry import added_section
from reports.sections.section import DataFile, ReportInputs, Section, SectionContent
from reports.tables.model import Table, TableCell
from search_spaces.designs import DESIGNS, Design, DesignRequest
from search_spaces.factors import Cell
from sed_core.errors import CheckpointError
from sed_core.models import BACKBONES, FUSIONS
from sed_core.models.backbones.base import Backbone, TokenGrid, frame_centers, valid_tokens
from sed_core.models.backbones.registration import BackboneRegistration, register_backbone

HOP = 320  # samples per token: 20 ms at 16 kHz


@dataclass(frozen=True)
class FrameSpec:
    dim: int


class FrameProjection(Backbone):
    """A throwaway backbone: 20 ms frames of the waveform -> one linear layer -> (B, T', 1, D)."""

    def __init__(self, spec: FrameSpec, *, clip_samples: int, drop_path: float) -> None:
        super().__init__()
        self.embed_dim = spec.dim
        self.drop_path = drop_path
        self.n_tokens = clip_samples // HOP
        self.proj = nn.Linear(HOP, spec.dim)
        self.norm = nn.LayerNorm(spec.dim)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        return waveform[:, : self.n_tokens * HOP].reshape(waveform.shape[0], self.n_tokens, HOP)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(features)).unsqueeze(2)

    def token_grid(self, n_samples: int) -> TokenGrid:
        return TokenGrid(frame_centers(self.n_tokens, 1, HOP / self.sample_rate, HOP / self.sample_rate),
                         valid_tokens(n_samples // HOP, 1, self.n_tokens))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return [list(self.proj.parameters()), list(self.norm.parameters())]

    def load_official(self, path: Path) -> None:
        raise CheckpointError(f"{path}: the throwaway backbone has no official checkpoint")


VARIANTS = {"base": FrameSpec(dim=64), "tiny": FrameSpec(dim=16)}


@pytest.fixture
def throwaway_backbone() -> Iterator[str]:
    register_backbone(BackboneRegistration("throwaway", FrameProjection, VARIANTS, official_drop_path=0.2))
    try:
        yield "throwaway"
    finally:
        BACKBONES.unregister("throwaway")


class GatedProductFusion(nn.Module):
    """A throwaway fusion: the CNN features scaled by a sigmoid gate computed from the SSL features."""

    def __init__(self, cnn_dim: int, ssl_dim: int, heads: int) -> None:
        super().__init__()
        self.out_dim = cnn_dim
        self.gate = nn.Linear(ssl_dim, cnn_dim)

    def forward(self, cnn: torch.Tensor, ssl: torch.Tensor | None) -> torch.Tensor:
        return cnn * torch.sigmoid(self.gate(ssl))


@pytest.fixture
def throwaway_fusion() -> Iterator[str]:
    with FUSIONS.temporarily("gated_product", GatedProductFusion):
        yield "gated_product"


def baseline_and_last(request: DesignRequest) -> list[Cell]:
    """A throwaway design: the baseline, then the cell with every factor at its last level."""
    last = request.space.cell({f.name: f.levels[-1] for f in request.space.factors}, source=request.source,
                              field="design")
    return [request.baseline] if last == request.baseline else [request.baseline, last]


@pytest.fixture
def throwaway_design() -> Iterator[str]:
    with DESIGNS.temporarily("baseline_and_last", Design(baseline_and_last)):
        yield "baseline_and_last"


def seeds_per_cell(inputs: ReportInputs) -> SectionContent:
    """A throwaway report section: the finished seeds of each cell, as a table and a CSV."""
    runs = inputs.runs.runs
    finished = runs[runs["status"] == "FINISHED"]
    counts = finished.groupby("cell")["seed"].nunique().reindex(inputs.runs.cells, fill_value=0)
    table = Table(name="seeds_per_cell", caption="Finished seeds per cell", header=("cell", "seeds"),
                  align=("l", "r"), rows=tuple((TableCell(cell), TableCell(str(n))) for cell, n in counts.items()))
    return SectionContent(tables=(table,), data_files=(DataFile("seeds_per_cell.csv", counts.rename("seeds")
                                                                 .rename_axis("cell").reset_index()),))


@pytest.fixture
def throwaway_section() -> Iterator[Section]:
    with added_section(Section("seeds_per_cell", "Seeds per cell", seeds_per_cell), after="results") as section:
        yield section

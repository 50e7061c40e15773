"""Declarative, validated factor spaces and designs: every key is a dotted path of the experiment config."""
from search_spaces.designs import DESIGNS, design_cells
from search_spaces.factors import Cell, Factor, FactorSpace

__all__ = ["DESIGNS", "Cell", "Factor", "FactorSpace", "design_cells"]

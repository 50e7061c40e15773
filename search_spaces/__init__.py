"""Declarative, validated factor spaces: every key is a dotted path of the experiment config."""
from search_spaces.factors import Cell, Factor, FactorSpace

__all__ = ["Cell", "Factor", "FactorSpace"]

"""MLflow params (always text) typed back through the experiment schema: `"0.5"` -> 0.5, `"[1, 2]"` -> (1, 2)."""
from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from sed_core.config.schema import ExperimentConfig

_NO_FIELD = object()


def config_annotation(dotted: str) -> Any:
    """The type annotation of the schema field at `a.b.c`, or `_NO_FIELD` when the path names no leaf field."""
    model: Any = ExperimentConfig
    *sections, leaf = dotted.split(".")
    for part in sections:
        model = _section(model, part)
        if model is None:
            return _NO_FIELD
    if not (isinstance(model, type) and issubclass(model, BaseModel)) or leaf not in model.model_fields:
        return _NO_FIELD
    annotation = model.model_fields[leaf].annotation
    return _NO_FIELD if _section_type(annotation) is not None else annotation


def is_config_leaf(dotted: str) -> bool:
    """Whether `dotted` names a leaf field of the experiment schema (so a trial logs it as a param)."""
    return config_annotation(dotted) is not _NO_FIELD


@lru_cache(maxsize=4096)
def typed_param(key: str, text: str) -> Any:
    """The value a param's text stands for, typed by the schema field `key` (text kept for unknown keys).

    Trials log `level_text(value)`: str values as they are, everything else as JSON. So the text is tried as
    JSON first and then as a plain string, each validated against the field's annotation (lax mode).
    """
    annotation = config_annotation(key)
    if annotation is _NO_FIELD:
        return text
    adapter = _adapter(annotation)
    candidates: list[Any] = []
    try:
        candidates.append(json.loads(text))
    except json.JSONDecodeError:
        pass
    candidates.append(text)
    for candidate in candidates:
        try:
            return adapter.validate_python(candidate)
        except ValidationError:
            continue
    return text


def typed_params(frame: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """Type the text columns `keys` of `frame` (one row per run; missing params are None) column by column.

    Returns a frame with the same index and one object column per key. Each distinct text is typed once.
    """
    out = pd.DataFrame(index=frame.index)
    for key in keys:
        column = frame[key] if key in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        values = {text: typed_param(key, text) for text in column.dropna().unique()}
        out[key] = pd.Series([None if pd.isna(text) else values[text] for text in column], index=frame.index,
                             dtype=object)
    return out


def level_values(params: pd.DataFrame, levels: pd.DataFrame, factors: Iterable[str]) -> Mapping[str, Mapping[str, Any]]:
    """{factor: {level text: typed value}} for factors logged as params; other factors keep their text."""
    out: dict[str, dict[str, Any]] = {}
    for factor in factors:
        texts = levels[factor].astype(str) if factor in levels.columns else pd.Series(dtype=str)
        if factor in params.columns:
            pairs = pd.DataFrame({"text": texts, "value": params[factor]}).dropna().drop_duplicates("text")
            out[factor] = dict(zip(pairs["text"], pairs["value"]))
        else:
            out[factor] = {}
        for text in texts.unique():
            out[factor].setdefault(text, typed_param(factor, text))
    return out


def _section(model: Any, part: str) -> Any:
    if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
        return None
    return _section_type(model.model_fields[part].annotation)


def _section_type(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


@lru_cache(maxsize=512)
def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation)

"""From YAML files, dicts and ``--set key=value`` options to a validated ExperimentConfig."""
from __future__ import annotations

import copy
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sed_core.config.acting import check_written_fields_act
from sed_core.config.bounded_yaml import MAX_YAML_BYTES, YamlLimitError, load_bounded
from sed_core.config.presets import PRESETS
from sed_core.config.schema import ExperimentConfig
from sed_core.errors import ConfigError, bounded_repr, close_match_hint


def load_config(path: str | Path, overrides: Sequence[str] = (), *, recorded: bool = False) -> ExperimentConfig:
    """Read an experiment YAML, lay it over its preset, apply ``key=value`` overrides and validate (``recorded``:
    a run's complete config, see ``config_from_dict``)."""
    path = Path(path)
    return config_with_overrides(read_yaml_mapping(path), overrides, source=str(path), recorded=recorded)


def config_with_overrides(raw: Mapping[str, Any], options: Sequence[str], *, source: str,
                          recorded: bool = False) -> ExperimentConfig:
    """Validate ``raw`` with the ``--set key=value`` ``options`` applied. An error the file (``source``) has by
    itself names the file; one an option brings in names that option (``--set training.epochs=x: ...``)."""
    parsed = [(option, parse_set_option(option)) for option in options]
    try:
        return config_from_dict(apply_overrides(raw, [item for _, item in parsed]), source=source, recorded=recorded)
    except ConfigError as err:
        if not parsed:
            raise
        try:
            config_from_dict(raw, source=source, recorded=recorded)
        except ConfigError:
            raise err from None  # the file is invalid by itself (and the options do not mend it)
        applied: list[tuple[str, Any]] = []
        for option, item in parsed:  # the first option that makes the valid file invalid is the one to name
            applied.append(item)
            config_from_dict(apply_overrides(raw, applied), source=f"--set {option}", recorded=recorded)
        raise  # pragma: no cover  (one of the options above raised)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found; give the path of an experiment YAML")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: refused: {path.stat().st_size:,} bytes, more than the {MAX_YAML_BYTES:,} a config "
                          f"or study may have")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); "
                          f"save it as UTF-8") from None
    raw = safe_yaml(text, str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections at the top level, got {type(raw).__name__}")
    return raw


def config_from_dict(raw: Mapping[str, Any], *, source: str = "<config>", recorded: bool = False,
                     written: Sequence[str] | None = None) -> ExperimentConfig:
    """Validate a (possibly partial) config dict laid over its ``preset``; errors name source and dotted field.

    A field the dict writes that has no effect in the result (``sed_core.config.acting``) is refused; ``written``
    narrows the check to those dotted fields (a study checks its shared ``experiment:`` block across its cells
    itself). A ``recorded`` config (a run's complete config.json, every default included) is not checked."""
    raw = dict(raw)
    preset = raw.get("preset", "paper")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"{source}: preset: unknown preset {preset!r}{close_match_hint(str(preset), PRESETS)}; "
                          f"choose one of {sorted(PRESETS)}")
    merged = deep_merge(PRESETS[preset], raw)
    merged["preset"] = preset
    try:
        config = ExperimentConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
    if not recorded:
        check_written_fields_act(config, [p for p in flatten(raw) if p != "preset"] if written is None else written,
                                 source=source)
    return config


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_set_option(option: str) -> tuple[str, Any]:
    """``model.rnn.num_layers=3`` -> ("model.rnn.num_layers", 3); the value is parsed as YAML."""
    if "=" not in option:
        raise ConfigError(f"--set {option!r}: expected KEY=VALUE with a dotted key, e.g. training.epochs=20")
    key, _, text = option.partition("=")
    return key.strip(), safe_yaml(text, f"--set {option!r}: the value")


# Besides YAMLError, PyYAML's safe loader lets through the errors of its constructors (a date such as 2001-13-40,
# `!!int abc`, `!!timestamp x`) and a RecursionError for deeply nested input.
YAML_ERRORS = (yaml.YAMLError, ValueError, TypeError, AttributeError, LookupError, OverflowError, RecursionError)


def safe_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load(text)``; any failure is a ConfigError that starts with ``where``."""
    try:
        return load_bounded(text)
    except YamlLimitError as err:
        raise ConfigError(f"{where}: refused: {err}") from None
    except YAML_ERRORS as err:
        raise ConfigError(f"{where}: not valid YAML: {type(err).__name__}: {err}") from None


def apply_overrides(raw: Mapping[str, Any], items: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (creating sections as needed); validation happens later."""
    out = copy.deepcopy(dict(raw))
    for dotted, value in items:
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[leaf] = value
    return out


def flatten(config: BaseModel | Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted ``{path: value}`` of a config, JSON-compatible (paths and tuples become str and lists)."""
    data = config.model_dump(mode="json") if isinstance(config, BaseModel) else config
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{path}."))
        else:
            out[path] = value
    return out


def field_names_at(dotted: Sequence[str | int]) -> list[str]:
    """The valid keys of the section at a dotted location of the schema ([] if it is not a section)."""
    model: Any = ExperimentConfig
    for part in dotted:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _section_type(model.model_fields[str(part)].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def is_config_path(dotted: str) -> bool:
    """Whether ``a.b.c`` names a field (leaf or section) of the experiment schema."""
    *parents, leaf = dotted.split(".")
    return leaf in field_names_at(parents)


def _section_type(annotation: Any) -> Any:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return annotation


def _shown(part: Any) -> str:
    """A key as a message shows it: plain keys as they are, odd ones (empty, spaces, control characters) quoted."""
    text = str(part)
    return text if text and text.isprintable() and text.strip() == text and "." not in text else repr(part)


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = [p for p in e["loc"] if not isinstance(p, int)] if e["type"] == "extra_forbidden" else list(e["loc"])
        dotted = ".".join(_shown(p) for p in loc) or "<top>"
        if e["type"] == "extra_forbidden":
            *parents, leaf = [str(p) for p in loc]
            candidates = [".".join([*parents, f]) for f in field_names_at(parents)]
            hint = close_match_hint(dotted, candidates)
            lines.append(f"{source}: {dotted}: unknown key{hint}")
        else:
            got = e.get("input")
            got_text = "" if isinstance(got, dict) else f" (got {bounded_repr(got)})"
            lines.append(f"{source}: {dotted}: {e['msg']}{got_text}")
    return "\n".join(lines)

"""Configs and studies parse within limits: repeated keys, alias bombs and giant files are refused by name."""
from __future__ import annotations

from pathlib import Path

import pytest

from sed_core.config.bounded_yaml import MAX_EXPANDED_NODES, MAX_YAML_BYTES, load_bounded
from sed_core.config.loading import parse_set_option, read_yaml_mapping
from sed_core.errors import ConfigError


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ",".join(["x"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_plain_yaml_anchors_and_merge_keys_still_load() -> None:
    assert load_bounded("base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\nd: *b\n") == \
        {"base": {"x": 1}, "c": {"x": 1, "y": 2}, "d": {"x": 1}}
    assert load_bounded(alias_bomb(3)) is not None  # 9^3 values: a normal use of aliases


def test_a_repeated_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: s\ntraining:\n  epochs: 2\n  epochs: 5\n")
    with pytest.raises(ConfigError, match=r"study.yaml: .*duplicate key 'epochs' \(first on line 3, again on line 4\)"):
        read_yaml_mapping(path)


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(9))  # 9^9 = 387 million values when walked
    with pytest.raises(ConfigError,
                       match=rf"bomb.yaml: refused: it holds more than {MAX_EXPANDED_NODES:,} values once its aliases"):
        read_yaml_mapping(path)
    with pytest.raises(ConfigError, match=r"--set .*refused: an alias .* refers to the node that contains it"):
        parse_set_option("training.optimizer.betas=&a [*a]")


def test_a_giant_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("seeds: [" + ",".join(["1"] * (MAX_YAML_BYTES // 2)) + "]\n")
    with pytest.raises(ConfigError, match=rf"big.yaml: refused: [\d,]+ bytes, more than the {MAX_YAML_BYTES:,}"):
        read_yaml_mapping(path)


def test_messages_quote_a_huge_value_within_bounds(tmp_path: Path) -> None:
    """A value within the parse limits can still be large (nested aliases, thousands of entries): a message quotes
    it cut to MESSAGE_VALUE_CHARS, so it stays readable and cheap."""
    from sed_core.config import config_from_dict
    from sed_core.errors import MESSAGE_VALUE_CHARS, bounded_repr
    from studies.definition import load_study

    nested = [[["x" * 50] * 30] * 30] * 30
    assert len(bounded_repr(nested)) <= MESSAGE_VALUE_CHARS and bounded_repr([1, 2]) == "[1, 2]"
    with pytest.raises(ConfigError) as refused:
        config_from_dict({"training": {"optimizer": {"betas": nested}}})
    assert len(str(refused.value)) < 2_000
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nexperiment: {preset: tiny}\ndesign:\n  factors:\n    model.pooling: [attention, max]\n"
                    "  baseline:\n    model.pooling: " + "[" + ", ".join(["7"] * 5_000) + "]\nseeds: [1]\n")
    with pytest.raises(ConfigError) as baseline:
        load_study(path)
    assert "is not one of its levels" in str(baseline.value) and len(str(baseline.value)) < 1_000


def test_a_document_of_too_many_values_is_refused_without_aliases(tmp_path: Path) -> None:
    path = tmp_path / "flat.yaml"
    path.write_text("seeds: [" + ",".join(["0"] * (MAX_EXPANDED_NODES + 1)) + "]\n")  # ~400 kB: under the size limit
    assert path.stat().st_size < MAX_YAML_BYTES
    with pytest.raises(ConfigError, match=rf"flat.yaml: refused: .* more than {MAX_EXPANDED_NODES:,}"):
        read_yaml_mapping(path)

"""YAML for configs and studies, bounded: no duplicate keys, no alias bombs, no giant documents.

PyYAML's safe loader shares an aliased node instead of copying it, so nine nested aliases of nine references
parse in microseconds into a value that expands to 9^9 leaves the moment anything walks it (validation, JSON,
an error message). Here a document is refused, before it is constructed, when its expanded node count (every
alias counted as a copy) passes ``MAX_EXPANDED_NODES``; a mapping that repeats a key is refused with both lines,
where PyYAML silently keeps the last value.
"""
from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 1_000_000  # a study of 2,000 cells is ~100 kB
MAX_EXPANDED_NODES = 200_000


class YamlLimitError(ValueError):
    """A document past the limits; the message says which limit and what was found."""


class _BoundedLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: PyYAML's own error says so
                break
            if first != line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {_short(key)!r} (first on line {first}, again on line {line}); "
                                "keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded, counted without expanding (memoised per node)."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in visiting:  # an alias inside its own anchor: endless when walked
            raise YamlLimitError("an alias (*name) refers to the node that contains it, which never ends when "
                                 "expanded; write the value out")
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        if children_done:
            total = 1 + sum(sizes.get(id(c), 0) for c in children)
            sizes[id(node)] = total
            if total > MAX_EXPANDED_NODES:
                return total
        else:
            visiting.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_bounded(text: str) -> Any:
    """``yaml.safe_load(text)`` within the limits above; YamlLimitError past them, a YAMLError on a bad document."""
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise YamlLimitError(f"{size:,} bytes, more than the {MAX_YAML_BYTES:,} a config or study may have")
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded = _expanded_size(node)
        if expanded > MAX_EXPANDED_NODES:
            raise YamlLimitError(f"it holds more than {MAX_EXPANDED_NODES:,} values once its aliases (*name) are "
                                 f"expanded (at least {expanded:,}); use fewer values or fewer nested aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()

"""Named entries for pluggable parts (models, CNN activations, weak poolings, backbones), with close-match errors."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sed_core.errors import ConfigError, close_match_hint

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> entry (a builder, or a registration record) table; ``field`` is the config path that selects an
    entry (for error messages)."""

    def __init__(self, kind: str, field: str) -> None:
        self.kind = kind
        self.field = field
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(builder: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = builder
            return builder

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a test's throwaway entry); an unknown name is a KeyError."""
        del self._entries[name]

    @contextmanager
    def temporarily(self, name: str, entry: T) -> Iterator[T]:
        """Register ``entry`` for the duration of a ``with`` block (tests and plug-in experiments)."""
        self.register(name)(entry)
        try:
            yield entry
        finally:
            self.unregister(name)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"{self.field}: unknown {self.kind} {name!r}{close_match_hint(name, self._entries)}; "
                f"registered: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

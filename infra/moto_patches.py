"""Bookkeeping for the local stack's changes to moto: what was replaced, so it can be given back."""

from __future__ import annotations

from typing import Any


class Patches:
    """Attributes replaced on moto's classes, with their originals (tests give them back)."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    def replace(self, owner: Any, name: str, value: Any) -> None:
        self._originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def restore(self) -> None:
        while self._originals:
            owner, name, value = self._originals.pop()
            setattr(owner, name, value)

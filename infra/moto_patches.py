"""Bookkeeping for the local stack's changes to moto: what was replaced, so it can be given back."""

from __future__ import annotations

from typing import Any


class Patches:
    """Attributes replaced on moto's classes, with their originals (tests give them back)."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, bool, Any]] = []

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    def replace(self, owner: Any, name: str, value: Any) -> None:
        """Set ``owner.name``; its own attribute is kept as stored (a classmethod stays one), an
        inherited one is only shadowed."""
        own = name in vars(owner)
        self._originals.append((owner, name, own, vars(owner)[name] if own else None))
        setattr(owner, name, value)

    def restore(self) -> None:
        while self._originals:
            owner, name, own, value = self._originals.pop()
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)

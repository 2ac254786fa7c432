"""Where a contact lands among dynamic segments: categories and suppression (SPEC §1).

Rules decide which segments a contact *matches*; placement decides which it *joins*:

- Suppression: a contact matched by the tenant's suppression policy joins no dynamic segment, except
  segments that opt out (``ignore_suppression``). ``subscribed = false`` is NOT a suppression for
  dynamic segments: SPEC suppresses unsubscribed contacts from exports only (they stay visible to
  rules such as ``subscribed is_false`` and are dropped by every export).
- Categories: a contact joins at most one segment of a category. A static placement in the category
  comes first (the contact joins no dynamic segment of it); otherwise the dynamic segments of the
  category are tried in priority order (lower first, then oldest ``created_at``, then id) and the
  first one it matches — after suppression — takes it. A suppressed match does not occupy the
  category, so a lower-priority segment that ignores suppression may still take the contact.
- Segments without a category are independent.

Two forms with identical answers: ``place_contact`` (one contact, pure Python, no pyarrow — the
real-time path) and ``place_masks`` (one Arrow batch of contacts — the scheduled run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow only for the vectorised form, imported inside it
    import pyarrow as pa


@dataclass(frozen=True)
class Slot:
    """What placement needs to know of a dynamic segment."""

    id: str
    category: str | None = None
    priority: int = 0
    created_at: str = ""
    ignore_suppression: bool = False

    @classmethod
    def of(cls, segment: Any) -> Slot:
        """From a stored ``Segment`` record (or anything with the same attributes)."""
        return cls(
            id=segment.id,
            category=segment.category or None,
            priority=int(segment.priority or 0),
            created_at=segment.created_at or "",
            ignore_suppression=bool(getattr(segment, "ignore_suppression", False)),
        )


def placement_order(slots: Iterable[Slot]) -> list[Slot]:
    """The order in which segments claim contacts: priority (lower first), then oldest, then id."""
    return sorted(slots, key=lambda s: (s.priority, s.created_at, s.id))


def place_contact(
    matches: set[str],
    static_categories: Iterable[str],
    segments: Iterable[Slot],
    suppressed: bool,
) -> set[str]:
    """The dynamic segments one contact joins.

    ``matches``: ids of the dynamic segments whose rules the contact matches; ``static_categories``:
    categories in which the contact is already in a static segment; ``segments``: every dynamic
    segment taking part (any order); ``suppressed``: whether the suppression policy matches it.
    """
    taken = set(static_categories)
    joined: set[str] = set()
    for slot in placement_order(segments):
        if slot.id not in matches or (suppressed and not slot.ignore_suppression):
            continue
        if slot.category is not None:
            if slot.category in taken:
                continue
            taken.add(slot.category)
        joined.add(slot.id)
    return joined


def place_masks(
    matches: Mapping[str, pa.BooleanArray],
    static_taken: Mapping[str, pa.BooleanArray],
    segments: Iterable[Slot],
    suppressed: pa.BooleanArray | None,
) -> dict[str, pa.BooleanArray]:
    """``place_contact`` for a whole batch: per segment, which of the batch's contacts join it.

    ``matches``: per dynamic segment, its rule's mask over the batch (no nulls); ``static_taken``:
    per category, which contacts are in a static segment of it; ``suppressed``: the suppression
    policy's mask (None: nobody is suppressed). Segments missing from ``matches`` match nobody.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    sized = [*matches.values(), *static_taken.values(), *([suppressed] if suppressed is not None else [])]
    size = len(sized[0]) if sized else 0
    free = {category: pc.invert(mask) for category, mask in static_taken.items()}
    not_suppressed = pc.invert(suppressed) if suppressed is not None else None
    joined: dict[str, pa.BooleanArray] = {}
    for slot in placement_order(segments):
        mask = matches.get(slot.id)
        if mask is None:
            joined[slot.id] = pa.array([False] * size, pa.bool_())
            continue
        if not_suppressed is not None and not slot.ignore_suppression:
            mask = pc.and_(mask, not_suppressed)
        if slot.category is not None:
            available = free.get(slot.category)
            if available is not None:
                mask = pc.and_(mask, available)
            free[slot.category] = pc.and_(available, pc.invert(mask)) if available is not None else pc.invert(mask)
        joined[slot.id] = mask
    return joined

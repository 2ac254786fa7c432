"""Sets of contact keys (``snapshots.KEY``: dense uint32 integers within a tenant's key space) as
bitmaps: one bit per key of the key space, packed eight to a byte (numpy, little bit order).

A run's per-segment results, last run's states and referenced segments are such sets, so a diff,
a reference lookup or a count is a few vectorised byte operations — no string is hashed or compared.
A set over a key space of ``n`` contacts takes ``n / 8`` bytes whatever its size (10,000,000
contacts: 1.25 MB), never more than the boolean column of the pass it replaces; sets of different
sizes combine as if the shorter one were padded with absent keys.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

KEY_DTYPE = np.uint32


class KeySet:
    """A set of contact keys in ``[0, size)``."""

    __slots__ = ("bits", "size")

    def __init__(self, bits: np.ndarray, size: int):
        self.bits = bits  # uint8, (size + 7) // 8 bytes, little bit order
        self.size = size

    @classmethod
    def empty(cls, size: int = 0) -> KeySet:
        return cls(np.zeros((size + 7) // 8, np.uint8), size)

    @classmethod
    def of(cls, keys: np.ndarray | Iterable[int], size: int = 0) -> KeySet:
        """The set of ``keys`` (any order, repeats allowed); ``size``: at least this key space."""
        keys = _as_keys(keys)
        size = max(size, int(keys.max()) + 1 if len(keys) else 0)
        flags = np.zeros(size, np.bool_)
        flags[keys] = True
        return cls.from_flags(flags)

    @classmethod
    def from_flags(cls, flags: np.ndarray) -> KeySet:
        """From one boolean per key (``flags[k]``: whether key ``k`` is in the set)."""
        return cls(np.packbits(flags, bitorder="little"), len(flags))

    @classmethod
    def from_packed(cls, packed: np.ndarray, count: int, size: int) -> KeySet:
        """The set of positions ``k < count`` whose bit is set in ``packed`` (uint8, little bit order,
        as Arrow packs a boolean column), over ``[0, max(size, count))``: the bytes are copied, never
        unpacked to one boolean per key. Bits at ``count`` and beyond are ignored."""
        size = max(size, count)
        bits = np.zeros((size + 7) // 8, np.uint8)
        whole, rest = divmod(count, 8)
        bits[:whole] = packed[:whole]
        if rest:
            bits[whole] = packed[whole] & ((1 << rest) - 1)
        return cls(bits, size)

    def flags(self) -> np.ndarray:
        """One boolean per key of ``[0, size)``."""
        return np.unpackbits(self.bits, count=self.size, bitorder="little").view(np.bool_)

    def keys(self) -> np.ndarray:
        """The keys, ascending (uint32). A very sparse set (under one key per 16 words of 64 keys) has
        only its non-zero bytes unpacked (found eight bytes at a time); denser ones (a 1% diff spread
        over the key space hits a third of the words) unpack every byte, which then costs less."""
        whole = len(self.bits) // 8 * 8  # scanned eight bytes at a time, then the few non-zero bytes kept
        words = np.flatnonzero(self.bits[:whole].view(np.uint64))
        if len(words) * 16 > whole // 8:  # not sparse: unpacking every byte costs less
            return np.flatnonzero(self.flags()).astype(KEY_DTYPE)
        tail = np.flatnonzero(self.bits[whole:]) + whole
        filled = np.concatenate([(words[:, None] * 8 + np.arange(8)).ravel(), tail])
        filled = filled[self.bits[filled] != 0]
        found = np.flatnonzero(np.unpackbits(self.bits[filled], bitorder="little"))
        return (filled[found >> 3].astype(KEY_DTYPE) << 3) | (found & 7).astype(KEY_DTYPE)

    def __len__(self) -> int:
        return int(np.bitwise_count(self.bits).sum(dtype=np.int64))

    def contains(self, keys: np.ndarray | Iterable[int]) -> np.ndarray:
        """For each of ``keys``, whether it is in the set (keys outside ``[0, size)`` are not)."""
        keys = _as_keys(keys)
        inside = keys < self.size if keys.dtype.kind == "u" else (keys >= 0) & (keys < self.size)
        if inside.all() and len(keys) * 8 >= self.size:  # many keys (a whole pass's): unpack once, gather
            return self.flags()[keys]
        if inside.all():
            return ((self.bits[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1).view(np.bool_)
        found = np.zeros(len(keys), np.bool_)
        within = keys[inside]
        found[inside] = ((self.bits[within >> 3] >> (within & 7).astype(np.uint8)) & 1).view(np.bool_)
        return found

    def __or__(self, other: KeySet) -> KeySet:
        mine, theirs, size = _aligned(self, other)
        return KeySet(mine | theirs, size)

    def __and__(self, other: KeySet) -> KeySet:
        mine, theirs, size = _aligned(self, other)
        return KeySet(mine & theirs, size)

    def __sub__(self, other: KeySet) -> KeySet:
        mine, theirs, size = _aligned(self, other)
        return KeySet(mine & ~theirs, size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeySet):
            return NotImplemented
        mine, theirs, _ = _aligned(self, other)
        return bool(np.array_equal(mine, theirs))

    __hash__ = None  # mutable buffer: not hashable

    def __repr__(self) -> str:
        return f"KeySet({len(self)} of {self.size})"


def union(sets: Iterable[KeySet]) -> KeySet:
    found = KeySet.empty()
    for one in sets:
        found = found | one
    return found


def _as_keys(keys: np.ndarray | Iterable[int]) -> np.ndarray:
    if isinstance(keys, np.ndarray):
        return keys.astype(np.int64, copy=False) if keys.dtype.kind == "i" else keys
    return np.fromiter(keys, np.int64)


def _aligned(one: KeySet, other: KeySet) -> tuple[np.ndarray, np.ndarray, int]:
    """Both sets' bytes at the larger size (the shorter padded with zero bytes; padding bits and bits
    past ``size`` are always zero, so the byte operations need no masking)."""
    size = max(one.size, other.size)
    length = (size + 7) // 8
    return _padded(one.bits, length), _padded(other.bits, length), size


def _padded(bits: np.ndarray, length: int) -> np.ndarray:
    if len(bits) == length:
        return bits
    grown = np.zeros(length, np.uint8)
    grown[:len(bits)] = bits
    return grown

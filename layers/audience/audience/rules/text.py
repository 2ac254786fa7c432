"""Case folding shared by both evaluators: "ignore case" must mean the same thing in each.

The vectorised evaluator lowers with Arrow's `utf8_lower` (a simple, one code point to one code point
mapping from a newer Unicode version); Python's `str.lower` differs on a few characters (İ becomes
two code points, a capital sigma at a word's end becomes ς, and letters added after Python's Unicode
version stay unchanged). `fold` is `str.lower` corrected on exactly those characters, so both
evaluators agree on every code point (a unit test checks all of them against Arrow).
"""

from __future__ import annotations

# code point -> Arrow's lowercase where Python's `str.lower` (Unicode 14) differs.
_SINGLE = {0x130: 0x69, 0x3A3: 0x3C3, 0x1C89: 0x1C8A, 0xA7CB: 0x264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF,
           0xA7D2: 0xA7D3, 0xA7D4: 0xA7D5, 0xA7DA: 0xA7DB, 0xA7DC: 0x19B, 0xA7DD: 0x277, 0xA7E2: 0x27C,
           0xAB6C: 0xAB4B, 0xAB6D: 0xAB4C, 0x1DF40: 0x1DF41, 0x1DF48: 0x1DF49, 0x1DF4A: 0x1DF4B,
           0x1DF4D: 0x1DF4E, 0x1DF51: 0x1DF52, 0x1DF68: 0x1DF69, 0x1DF6A: 0x1DF6B, 0x1DF6C: 0x1DF6D,
           0x1DF6E: 0x1DF6F, 0x1DF72: 0x1DF73, 0x1DF74: 0x1DF75, 0x1DF76: 0x1DF77, 0x1DF78: 0x1DF79,
           0x1DF7A: 0x1DF7B, 0x1DF7C: 0x1DF7D, 0x1DF7E: 0x1DF7F}
# (first, last, offset): contiguous blocks of capitals whose lowercase is at a fixed distance.
_BLOCKS = ((0x10D50, 0x10D65, 0x20), (0x16EA0, 0x16EB8, 0x1B))

_TABLE: dict[int, str] = {src: chr(dst) for src, dst in _SINGLE.items()}
for _first, _last, _offset in _BLOCKS:
    _TABLE.update({cp: chr(cp + _offset) for cp in range(_first, _last + 1)})


def fold(text: str) -> str:
    """Lowercase `text` exactly as Arrow's `utf8_lower` does."""
    if text.isascii():
        return text.lower()
    return text.translate(_TABLE).lower()

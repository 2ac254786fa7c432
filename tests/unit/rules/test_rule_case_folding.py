"""'Ignore case' means the same in both evaluators: `fold` lowercases every code point exactly as
Arrow's `utf8_lower`, including where Python's `str.lower` differs (İ, final sigma, newer letters)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from audience.rules.text import fold


def test_fold_matches_arrow_utf8_lower_on_every_code_point():
    every = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    assert fold(every) == pc.utf8_lower(pa.array([every]))[0].as_py()


def test_fold_ignores_word_context_like_arrow():
    words = ["ΟΔΟΣ", "ΟΔΟΣ ΚΑΙ", "İstanbul", "STRAẞE", "Ꟊ"]
    assert [fold(w) for w in words] == pc.utf8_lower(pa.array(words)).to_pylist()
    assert fold("ΟΔΟΣ") == "οδοσ"  # str.lower would give the final form ς


def test_fold_of_ascii_is_str_lower():
    assert fold("Hello@Example.COM") == "hello@example.com"

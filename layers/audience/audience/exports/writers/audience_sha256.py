"""Customer-list file for ad platforms: Meta (Facebook/Instagram) Custom Audience "customer list"
layout — headers ``email``, ``phone``, ``fn``, ``ln``, ``ct``, ``st``, ``country``, ``gen`` — each
value normalised the way Meta documents and then SHA-256 hex encoded (lower-case hex).

Normalisation (before hashing):
- email: trimmed, lower-cased;
- phone: E.164 digits with the country code and without ``+`` (``+49 151 1234 5678`` ->
  ``4915112345678``);
- first/last name: lower-cased, punctuation removed (letters in UTF-8 kept);
- city, state: lower-cased, only letters and digits (no spaces or punctuation);
- country: ISO 3166-1 alpha-2, lower-cased (a value that is not a two-letter code is left empty);
- gender: ``m`` or ``f`` (anything else left empty).
Empty values stay empty (never the hash of an empty string) and a contact with none of the selected
identifiers is left out of the file: a platform cannot match it. No byte-order mark: platforms read
the first header literally.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from audience.exports.writers.base import ExportWriter, Row
from audience.imports.identity import IdentityError, normalise_phone

_NON_DIGITS = re.compile(r"\D+")
_NAME_DROP = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def normalise_email(value: Any) -> str:
    return str(value).strip().lower()


def normalise_phone_digits(value: Any) -> str:
    """E.164 digits without ``+``; stored phones are already E.164, older text is parsed again."""
    text = str(value).strip()
    try:
        return normalise_phone(text, None)[1:]
    except IdentityError:
        # Not parseable without a region: keep it only if it already carries a country code.
        digits = _NON_DIGITS.sub("", text)
        if text.startswith("+"):
            return digits
        return digits[2:] if digits.startswith("00") else ""


def normalise_name(value: Any) -> str:
    text = unicodedata.normalize("NFC", str(value)).lower()
    return _SPACES.sub(" ", _NAME_DROP.sub("", text)).strip()


def normalise_place(value: Any) -> str:
    return _NON_ALNUM.sub("", unicodedata.normalize("NFC", str(value)).lower())


def normalise_country(value: Any) -> str:
    text = str(value).strip().lower()
    return text if len(text) == 2 and text.isascii() and text.isalpha() else ""


def normalise_gender(value: Any) -> str:
    text = str(value).strip().lower()
    return text[0] if text[:1] in ("m", "f") else ""


# catalog field -> (Meta header, normaliser)
IDENTIFIER_COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "email": ("email", normalise_email),
    "phone": ("phone", normalise_phone_digits),
    "first_name": ("fn", normalise_name),
    "last_name": ("ln", normalise_name),
    "city": ("ct", normalise_place),
    "state": ("st", normalise_place),
    "country": ("country", normalise_country),
    "gender": ("gen", normalise_gender),
}
DEFAULT_COLUMNS = ("email", "phone")


def sha256_hex(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""


class AudienceSha256Writer(ExportWriter):
    """``action_column``: a delta file (``changes_since``), each row's ``action`` (add or remove) last."""

    def __init__(self, sink, columns, catalog, *, action_column: bool = False) -> None:
        unknown = [name for name in columns if name not in IDENTIFIER_COLUMNS]
        if unknown:
            raise ValueError(f"not identifier columns of the audience_sha256 layout: {unknown}")
        super().__init__(sink, columns, catalog)
        self.action_column = action_column
        self._emit([[IDENTIFIER_COLUMNS[name][0] for name in self.columns] + (["action"] if action_column else [])])

    def write_rows(self, rows: Sequence[Row]) -> int:
        lines = []
        for row in rows:
            hashed = [self._hash(name, row.get(name)) for name in self.columns]
            if any(hashed):
                lines.append(hashed + ([row["action"]] if self.action_column else []))
        self._emit(lines)
        return len(lines)

    @staticmethod
    def _hash(name: str, value: Any) -> str:
        if value is None or value == "":
            return ""
        return sha256_hex(IDENTIFIER_COLUMNS[name][1](value))

    def _emit(self, lines: list[list[str]]) -> None:
        if lines:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(lines)
            self.sink.write(buffer.getvalue().encode("utf-8"))

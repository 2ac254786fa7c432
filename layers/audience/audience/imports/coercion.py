"""Raw cell values -> typed contact field values, by the field catalog's type.

Accepts what real tools write: "1,234.5" and "1.234,5", yes/no/y/n/1/0, ISO dates, d/m/Y or m/d/Y
(as the tenant declares; never guessed per row), Excel serial dates, tags split on , ; |.
Stored representation: numbers as int/float, booleans as bool, dates ``YYYY-MM-DD``, datetimes
``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (UTC), lists as list[str]. Pure: no pyarrow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from audience.fields import FieldType
from audience.imports.identity import IdentityError, normalise_email, normalise_phone
from audience.instants import in_utc

DateOrder = Literal["DMY", "MDY"]

MAX_STRING_CHARS = 2_000
MAX_LIST_ITEMS = 1_000
MAX_LIST_ITEM_CHARS = 1_000
EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)  # serial 1 = 1900-01-01 after Excel's 1900 leap-year bug
MAX_EXCEL_SERIAL = 2_958_465  # 9999-12-31

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f", "off"})
TAG_SEPARATORS = re.compile(r"[,;|]")
_SLASHED = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*([AaPp][Mm])?)?$"
)
_YMD_SLASHED = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_BASIC_ISO = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_GROUPED_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")


class CoercionError(ValueError):
    """The value cannot be read as the field's type; the message is the report's reason."""


@dataclass(frozen=True)
class CoercionOptions:
    """Tenant conventions: how to read 03/04/2025 and phones written without a country code."""

    date_order: DateOrder = "MDY"
    default_region: str | None = "US"


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return False


def coerce(value: Any, field_name: str, field_type: FieldType, options: CoercionOptions) -> Any:
    """The stored value for one non-empty cell, or CoercionError."""
    return converter(field_name, field_type, options)(value)


def converter(field_name: str, field_type: FieldType, options: CoercionOptions) -> Callable[[Any], Any]:
    """``coerce`` for one column, chosen once: the importer reads every cell of a column the same
    way, so the choice by field name and type is made per column rather than per cell."""
    if field_name == "email":
        return _identity_reader(normalise_email)
    if field_name == "phone":
        region = options.default_region
        return _identity_reader(lambda value: normalise_phone(value, region))
    if field_type is FieldType.STRING:
        return to_string
    if field_type is FieldType.NUMBER:
        return to_number
    if field_type is FieldType.BOOLEAN:
        return to_boolean
    if field_type is FieldType.DATE:
        order = options.date_order
        return lambda value: to_date(value, order).isoformat()
    if field_type is FieldType.DATETIME:
        order = options.date_order
        return lambda value: format_datetime(to_datetime(value, order))
    if field_type is FieldType.LIST:
        return to_list

    def unsupported(value: Any) -> Any:
        raise CoercionError(f"unsupported field type {field_type}")

    return unsupported


def _identity_reader(normalise: Callable[[Any], str]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        try:
            return normalise(value)
        except IdentityError as exc:
            raise CoercionError(str(exc)) from exc

    return read


def to_string(value: Any) -> str:
    if type(value) is str:  # a CSV cell: the common case, first
        text = value.strip()
        if len(text) > MAX_STRING_CHARS:
            raise CoercionError(f"longer than {MAX_STRING_CHARS} characters")
        return text
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # a zip code or id a spreadsheet stored as a number
    elif isinstance(value, datetime):
        text = format_datetime(_as_utc(value))
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.strip()
    if len(text) > MAX_STRING_CHARS:
        raise CoercionError(f"longer than {MAX_STRING_CHARS} characters")
    return text


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise CoercionError("a boolean is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        number = _parse_number_text(value)
    else:
        raise CoercionError(f"not a number ({type(value).__name__})")
    if not math.isfinite(number):
        raise CoercionError("not a finite number")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _parse_number_text(text: str) -> float:
    raw = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    if _PLAIN_NUMBER.match(raw):
        cleaned = raw
    elif _GROUPED_COMMA.match(raw):
        cleaned = raw.replace(",", "")
    elif _GROUPED_DOT.match(raw):
        cleaned = raw.replace(".", "").replace(",", ".")
    elif re.match(r"^[+-]?\d+,\d+$", raw):
        cleaned = raw.replace(",", ".")  # decimal comma: "12,5"
    else:
        raise CoercionError("not a number")
    return float(cleaned)


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CoercionError("not a boolean (use yes/no, true/false, y/n or 1/0)")


def to_date(value: Any, order: DateOrder) -> date:
    if isinstance(value, datetime):
        return _as_utc(value).date()
    if isinstance(value, date):
        return value
    return to_datetime(value, order, date_only=True).date()


def to_datetime(value: Any, order: DateOrder, date_only: bool = False) -> datetime:
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, (time, timedelta)):
        raise CoercionError("a time of day without a date")
    if isinstance(value, bool):
        raise CoercionError("not a date")
    if isinstance(value, (int, float)):
        return _from_excel_serial(float(value))
    text = str(value).strip()
    if _BASIC_ISO.match(text):
        return _build(text[:4], text[4:6], text[6:8])
    if _PLAIN_NUMBER.match(text):
        return _from_excel_serial(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        pass
    else:
        return _as_utc(parsed)
    match = _YMD_SLASHED.match(text)
    if match:
        y, m, d, hh, mm, ss = match.groups()
        return _build(y, m, d, hh, mm, ss)
    match = _SLASHED.match(text)
    if match:
        first, second, year, hh, mm, ss, frac, meridiem = match.groups()
        day, month = (first, second) if order == "DMY" else (second, first)
        if hh is not None and meridiem:
            hour = int(hh)
            if not 1 <= hour <= 12:
                raise CoercionError(f"not a valid time: {text!r}")
            hh = str(hour % 12 + (12 if meridiem.lower() == "pm" else 0))
        return _build(year, month, day, hh, mm, ss, frac, layout="d/m/Y" if order == "DMY" else "m/d/Y")
    kind = "date" if date_only else "date or date-time"
    layout = "d/m/Y" if order == "DMY" else "m/d/Y"
    raise CoercionError(f"not a {kind} (use ISO 8601 YYYY-MM-DD, {layout}, or an Excel date)")


def _build(y, m, d, hh=None, mm=None, ss=None, frac=None, layout="Y-m-d") -> datetime:
    try:
        return datetime(
            int(y),
            int(m),
            int(d),
            int(hh or 0),
            int(mm or 0),
            int(ss or 0),
            int((frac or "0").ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise CoercionError(f"not a valid {layout} date: {exc}") from exc


def _from_excel_serial(serial: float) -> datetime:
    if not 1 <= serial <= MAX_EXCEL_SERIAL:
        raise CoercionError("a number that is not a plausible Excel date serial")
    # Round to the millisecond: Excel stores times as binary fractions of a day.
    return EXCEL_EPOCH + timedelta(milliseconds=round(serial * 86_400_000))


def _as_utc(value: datetime) -> datetime:
    try:
        return in_utc(value)
    except ValueError as exc:  # a value UTC cannot hold is that cell's bad value, not the row's
        raise CoercionError(str(exc)) from None


def format_datetime(value: datetime) -> str:
    text = _as_utc(value).replace(tzinfo=None).isoformat()
    return text + "Z"


def to_list(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else TAG_SEPARATORS.split(to_string(value))
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if item is None:
            continue
        text = to_string(item)
        if not text:
            continue
        if len(text) > MAX_LIST_ITEM_CHARS:
            raise CoercionError(f"an item longer than {MAX_LIST_ITEM_CHARS} characters")
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    if len(out) > MAX_LIST_ITEMS:
        raise CoercionError(f"more than {MAX_LIST_ITEMS} items")
    return out

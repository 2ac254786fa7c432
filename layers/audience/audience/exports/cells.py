"""Rendering stored contact values as spreadsheet text, and neutralising formula injection.

A contact's text comes from whoever filled a form or an import file. Spreadsheet programs execute a
cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (and strip a leading tab or carriage return
before deciding), so a value like ``=HYPERLINK("http://evil", "click")`` would run when a marketer
opens the export. Such text cells get a single quote ``'`` in front: Excel, LibreOffice and Google
Sheets then show the text instead of evaluating it. Numbers, booleans and dates are never text cells
and are written as they are (a negative number stays a number).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from audience.fields import FieldType

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ", "  # imports split tags on , ; | so an exported file re-imports unchanged


def neutralise_formula(text: str) -> str:
    """``text`` prefixed with ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, (str, list, tuple)) and len(value) == 0


def as_text(value: Any, field_type: FieldType) -> str:
    """The plain text of a stored value (no neutralisation): what a CSV cell holds."""
    if is_empty(value):
        return ""
    if field_type is FieldType.BOOLEAN:
        return "true" if value else "false"
    if field_type is FieldType.NUMBER:
        return format_number(value)
    if field_type is FieldType.LIST:
        items: Iterable[Any] = value if isinstance(value, (list, tuple)) else [value]
        return LIST_SEPARATOR.join(str(item) for item in items)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def format_number(value: Any) -> str:
    """``3`` rather than ``3.0``; other floats in their shortest round-trip form."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def is_text_type(field_type: FieldType) -> bool:
    """Cells of these types hold free text and are neutralised in csv and xlsx."""
    return field_type in (FieldType.STRING, FieldType.LIST)

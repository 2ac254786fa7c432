"""Whole Arrow columns rendered as export text, with the same rules as ``cells`` applies per value.

Exports read contacts as typed record batches (snapshot layout, ``columnar.contacts_schema``), so the
text of a column is computed with ``pyarrow.compute`` kernels over the whole batch instead of one
Python call per cell. The few values Arrow would spell differently from ``cells.format_number``
(non-integral numbers outside 1e-4..1e10, where Arrow switches to exponent notation at other
thresholds than Python) are formatted in Python, so both paths write the same characters.

Date-times are written in ISO 8601 UTC with a ``Z``: seconds when the fraction is zero,
milliseconds when it is whole milliseconds (the service's own stamps), microseconds otherwise.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from audience.columnar import arrow_type
from audience.exports.cells import FORMULA_TRIGGERS, LIST_SEPARATOR, format_number
from audience.fields import FieldType

_EXACT_INTEGERS = 1e16  # below this an integral float64 is an exact int64: "3", never "3.0"
_ARROW_AGREES = (1e-4, 1e10)  # non-integral magnitudes Arrow formats exactly as Python's repr
_TRIGGER = "^[" + "".join("\\t" if c == "\t" else "\\r" if c == "\r" else "\\" + c for c in FORMULA_TRIGGERS) + "]"


def text_column(values: pa.Array, field_type: FieldType) -> pa.Array:
    """The column as strings (empty values as ``""``), as ``cells.as_text`` renders each value."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if field_type is FieldType.BOOLEAN:
        text = pc.if_else(values, "true", "false")
    elif field_type is FieldType.NUMBER:
        text = number_text(values)
    elif field_type is FieldType.DATETIME:
        text = datetime_text(values)
    elif field_type is FieldType.DATE:
        text = values.cast(pa.string())
    elif field_type is FieldType.LIST:
        text = list_text(values)
    else:
        text = values.cast(pa.string())
    return pc.fill_null(text, "")


def neutralised(text: pa.Array) -> pa.Array:
    """``'`` in front of every text a spreadsheet would run as a formula (``cells.neutralise_formula``)."""
    risky = pc.match_substring_regex(text, _TRIGGER)
    if not pc.any(risky).as_py():
        return text
    return pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)


def number_text(values: pa.Array) -> pa.Array:
    values = values.cast(pa.float64())
    finite = pc.fill_null(pc.is_finite(values), False)
    magnitude = pc.abs(values)
    integral = pc.and_(finite, pc.and_(pc.equal(pc.floor(values), values), pc.less(magnitude, _EXACT_INTEGERS)))
    as_integer = pc.if_else(integral, values, 0.0).cast(pa.int64()).cast(pa.string())
    text = pc.if_else(integral, as_integer, values.cast(pa.string()))
    agrees = pc.and_(pc.greater_equal(magnitude, _ARROW_AGREES[0]), pc.less(magnitude, _ARROW_AGREES[1]))
    by_python = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(pc.or_(integral, agrees), False)))
    nan = pc.fill_null(pc.is_nan(values), False)
    if pc.any(nan).as_py():
        text = pc.if_else(nan, pa.scalar(None, pa.string()), text)
        by_python = pc.and_(by_python, pc.invert(nan))
    if not pc.any(by_python).as_py():
        return text
    positions = pc.indices_nonzero(by_python)
    spelled = pa.array([format_number(v) for v in values.take(positions).to_pylist()], pa.string())
    return pc.replace_with_mask(text, by_python, spelled)


def datetime_text(values: pa.Array) -> pa.Array:
    seconds = pc.floor_temporal(values, unit="second")
    fraction = pc.subtract(values.cast(pa.int64()), seconds.cast(pa.int64()))  # microseconds, 0..999999
    whole = pc.strftime(seconds.cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%S")
    millis = pc.utf8_lpad(pc.divide(fraction, 1000).cast(pa.string()), 3, "0")
    micros = pc.utf8_lpad(fraction.cast(pa.string()), 6, "0")
    in_millis = pc.equal(pc.subtract(fraction, pc.multiply(pc.divide(fraction, 1000), 1000)), 0)
    suffix = pc.if_else(
        pc.equal(fraction, 0),
        "Z",
        pc.if_else(in_millis, pc.binary_join_element_wise(".", millis, "Z", ""),
                   pc.binary_join_element_wise(".", micros, "Z", "")),
    )
    return pc.binary_join_element_wise(whole, suffix, "")


def list_text(values: pa.Array) -> pa.Array:
    """Items joined with ``", "``; a null item (a non-string stored in a list) reads as empty."""
    if values.null_count == len(values):
        return pa.nulls(len(values), pa.string())
    if not values.values.null_count:
        return pc.binary_join(values, LIST_SEPARATOR)
    if values.offset:  # a slice: Arrow rebuilds lists with a null bitmap only from offset 0
        values = values.take(pa.array(range(len(values)), pa.int32()))
    rebuilt = pa.ListArray.from_arrays(values.offsets, pc.fill_null(values.values, ""), mask=values.is_null())
    return pc.binary_join(rebuilt, LIST_SEPARATOR)


def csv_lines(columns: list[pa.Array | None], rows: int) -> memoryview:
    """UTF-8 CSV lines of these text columns (None: an empty column) as Python's ``csv`` "excel"
    dialect writes them: a cell is quoted (inner quotes doubled) only when it holds ``"``, ``,``,
    CR or LF; a row of one empty cell is ``""`` (so it is not a blank line); lines end in CRLF."""
    cells = [pa.array([""] * rows, pa.string()) if column is None else _quoted(column) for column in columns]
    if len(cells) == 1:
        cells = [pc.if_else(pc.equal(cells[0], ""), '""', cells[0])]
    lines = pc.binary_join_element_wise(*cells, ",") if len(cells) > 1 else cells[0]
    lines = pc.binary_join_element_wise(lines, "", "\r\n")  # each line + CRLF
    whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, rows], pa.int32()), lines), "")
    return memoryview(whole[0].as_buffer())


def _quoted(text: pa.Array) -> pa.Array:
    special = pc.match_substring_regex(text, '[",\r\n]')
    if not pc.any(special).as_py():
        return text
    wrapped = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(special, wrapped, text)


def whole_number(value: Any) -> Any:
    """A number as the service stores it: whole numbers as ``int`` (``3``, never ``3.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INTEGERS:
        return int(value)
    return value


def batch_rows(batch: pa.RecordBatch, columns: list[str], types: dict[str, FieldType]) -> list[dict[str, Any]]:
    """The batch's rows as dicts of values in the stored form (``Contact.as_row``: ISO text for dates
    and date-times, whole numbers as ``int``), for writers that work per row."""
    lists = {}
    for name in columns:
        kind = types[name]
        index = batch.schema.get_field_index(name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, arrow_type(kind))
        if kind is FieldType.DATETIME:
            lists[name] = datetime_text(column).to_pylist()
        elif kind is FieldType.DATE:
            lists[name] = column.cast(pa.string()).to_pylist()
        else:
            converted = column.to_pylist()
            lists[name] = [whole_number(v) for v in converted] if kind is FieldType.NUMBER else converted
    return [dict(zip(columns, values, strict=True)) for values in zip(*(lists[n] for n in columns), strict=True)] \
        if columns else [{} for _ in range(batch.num_rows)]

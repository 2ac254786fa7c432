"""Child process that parses one spreadsheet with python-calamine.

calamine can abort the whole process (SIGABRT, uncatchable) on hostile files, e.g. one cell at
XFD1048576 makes it allocate the full grid. Parsing therefore happens here, in a process whose
address space the parent limits; the parent only ever sees a pickled result or a dead child.
Self-contained on purpose (no ``audience`` import) so it starts fast and trusts nothing.

Protocol: file bytes on stdin; argv = sheet name ("" = first), max rows, max columns;
stdout = pickle of ``{"ok": True, "sheet", "rows"}`` or ``{"ok": False, "code", "message"}``.
"""

from __future__ import annotations

import io
import pickle
import sys


def parse(data: bytes, sheet_name: str, max_rows: int, max_columns: int) -> dict:
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several unrelated types for broken files
        return {"ok": False, "code": "unreadable", "message": f"not a readable spreadsheet: {exc}"}
    names = workbook.sheet_names
    if not names:
        return {"ok": False, "code": "no_header", "message": "the workbook has no sheets"}
    if sheet_name:
        if sheet_name not in names:
            return {
                "ok": False,
                "code": "sheet_not_found",
                "message": f"sheet {sheet_name!r} not found; the workbook has {names}",
            }
        chosen = sheet_name
    else:
        chosen = names[0]
    try:
        sheet = workbook.get_sheet_by_name(chosen)
    except Exception as exc:
        return {"ok": False, "code": "unreadable", "message": f"sheet {chosen!r} cannot be read: {exc}"}
    if sheet.width > max_columns:
        return {
            "ok": False,
            "code": "too_many_columns",
            "message": f"sheet {chosen!r} spans {sheet.width} columns; at most {max_columns} are accepted",
        }
    if sheet.height > max_rows + 1:
        return {
            "ok": False,
            "code": "too_many_rows",
            "message": f"sheet {chosen!r} spans {sheet.height} rows; at most {max_rows} data rows are accepted",
        }
    rows = sheet.to_python(skip_empty_area=True)
    # calamine starts the range at the first used cell; keep row numbers as the person sees them.
    first_row = sheet.start[0] if sheet.start else 0
    return {"ok": True, "sheet": chosen, "first_row": first_row + 1, "rows": rows}


def main() -> None:
    sheet_name, max_rows, max_columns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = sys.stdin.buffer.read()
    result = parse(data, sheet_name, max_rows, max_columns)
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()

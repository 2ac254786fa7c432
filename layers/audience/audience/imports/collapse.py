"""Rows of one batch that name the same person (same contact_id, email or phone) become one
candidate; later rows' values win (the creation time: the earliest). A row that would tie two
different people together (its email is one candidate's, its phone another's, or it gives a known
person a second email) is rejected: importing it would break the one-email/one-phone-per-contact
rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audience.imports.rows import ContactRow, RejectRecord

IDENTITY_FIELDS = ("contact_id", "email", "phone")


@dataclass
class Candidate:
    rows: list[int] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None  # the earliest the rows give: when the person first arrived

    def key(self, name: str) -> str | None:
        return self.fields.get(name)


def collapse(rows: Iterable[ContactRow]) -> tuple[list[Candidate], list[RejectRecord]]:
    candidates: list[Candidate] = []
    index: dict[tuple[str, str], Candidate] = {}
    rejects: list[RejectRecord] = []
    for row in rows:
        matches: list[Candidate] = []
        for name in IDENTITY_FIELDS:
            value = row.fields.get(name)
            found = index.get((name, value)) if value is not None else None
            if found is not None and all(found is not m for m in matches):
                matches.append(found)
        if len(matches) > 1:
            rows_named = " and ".join(str(m.rows[0]) for m in matches)
            rejects.append(RejectRecord(row.row, "", "", f"matches rows {rows_named}, which are different contacts"))
            continue
        if matches:
            target = matches[0]
            clash = next(
                (n for n in IDENTITY_FIELDS if n in row.fields and target.key(n) not in (None, row.fields[n])),
                None,
            )
            if clash:
                rejects.append(
                    RejectRecord(
                        row.row,
                        clash,
                        str(row.fields[clash]),
                        f"row {target.rows[0]} is the same contact with a different {clash}",
                    )
                )
                continue
        else:
            target = Candidate()
            candidates.append(target)
        target.rows.append(row.row)
        target.fields.update(row.fields)
        if row.created_at and (target.created_at is None or row.created_at < target.created_at):
            target.created_at = row.created_at
        for name in IDENTITY_FIELDS:
            if name in row.fields:
                index[(name, row.fields[name])] = target
    return candidates, rejects

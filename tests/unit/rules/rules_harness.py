"""Runs one rule over many contacts through BOTH evaluators and insists they agree.

Every behavioural test of the rule language goes through `both`, so a case written once checks the
per-record evaluator, the vectorised one, and that they give the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from audience.columnar import EVENTS_SCHEMA, contacts_schema
from audience.fields import FieldCatalog, FieldType
from audience.rules import Rule, evaluate_record, parse_rule
from audience.rules.vectorised import evaluate_segments

AS_OF = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
CATALOG = FieldCatalog(
    {
        "plan": FieldType.STRING,
        "ltv": FieldType.NUMBER,
        "vip": FieldType.BOOLEAN,
        "renewal_on": FieldType.DATE,
        "last_seen": FieldType.DATETIME,
        "interests": FieldType.LIST,
    }
)
MISSING = object()  # a contact without the key at all


def contacts_batch(contacts: Sequence[Mapping[str, Any]], catalog: FieldCatalog = CATALOG,
                   *, only_present_columns: bool = False) -> pa.RecordBatch:
    """Contacts as one record batch of the snapshot layout (a missing key is a null)."""
    schema = contacts_schema(catalog)
    if only_present_columns:
        present = {key for contact in contacts for key in contact}
        schema = pa.schema([f for f in schema if f.name in present or f.name == "contact_id"])
    columns = {f.name: pa.array([c.get(f.name) for c in contacts], f.type) for f in schema}
    return pa.RecordBatch.from_pydict(columns, schema=schema)


def events_table(events: Sequence[Mapping[str, Any]]) -> pa.Table:
    rows = {
        "contact_id": [e["contact_id"] for e in events],
        "event": [e["event"] for e in events],
        "occurred_at": [e["occurred_at"] for e in events],
        "properties": [list((e.get("properties") or {}).items()) for e in events],
    }
    return pa.Table.from_pydict(rows, schema=EVENTS_SCHEMA)


def both(
    rule: Rule | Mapping[str, Any],
    values: Sequence[Any] | None = None,
    *,
    field: str | None = None,
    contacts: Sequence[Mapping[str, Any]] | None = None,
    events: Sequence[Mapping[str, Any]] = (),
    as_of: datetime = AS_OF,
    catalog: FieldCatalog = CATALOG,
    memberships: Mapping[str, set[str]] | None = None,
) -> list[bool]:
    """Whether each contact matches, asserting both evaluators agree.

    Either `contacts` (dicts with `contact_id`) or `values` of one `field` (MISSING: key absent)."""
    if contacts is None:
        contacts = []
        for i, value in enumerate(values or []):
            contact = {"contact_id": f"c{i:04d}"}
            if value is not MISSING:
                contact[field] = value
            contacts.append(contact)
    parsed = rule if not isinstance(rule, Mapping) else parse_rule(rule, catalog)
    members = memberships or {}
    by_contact: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        by_contact.setdefault(event["contact_id"], []).append(event)
    per_record = [
        evaluate_record(
            parsed, contact, as_of=as_of, catalog=catalog, events=by_contact.get(contact["contact_id"], []),
            member_of=lambda sid, cid=contact["contact_id"]: cid in members.get(sid, set()),
        )
        for contact in contacts
    ]
    found = evaluate_segments(
        [("s", parsed)],
        [contacts_batch(contacts, catalog)],
        as_of=as_of,
        catalog=catalog,
        events=events_table(events) if events else None,
        memberships={sid: pa.array(sorted(ids), pa.string()) for sid, ids in members.items()},
    )["s"].to_pylist()
    vectorised = [c["contact_id"] in set(found) for c in contacts]
    assert per_record == vectorised, (
        f"evaluators disagree on {rule}: per-record {per_record} vs vectorised {vectorised} for {contacts}"
    )
    return per_record


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day(text: str) -> date:
    return date.fromisoformat(text)

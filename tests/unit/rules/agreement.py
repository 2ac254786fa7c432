"""The one harness that runs rules (one, or a set of segments) through BOTH evaluators and insists
they agree; the table tests and both property tests build their inputs here.

Contacts are plain dicts (typed Python values; `MISSING` leaves the key out); the vectorised side
gets them as an Arrow batch of `contacts_schema(catalog)` and the events as an `EVENTS_SCHEMA` table
(property values in the event log's string form, where an empty value is stored as null; or, with
`verbatim=True`, as given, so an empty string reaches the vectorised reader as ""), the per-record
side gets the dicts as they are.
Every helper returns the per-record answers only after checking that the vectorised evaluator
selected exactly the same contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from audience.columnar import EVENTS_SCHEMA, contacts_schema
from audience.fields import FieldCatalog, FieldType
from audience.rules import dependency_order, evaluate_record, parse_rule
from audience.rules.record import property_text
from audience.rules.vectorised import evaluate_segments

AS_OF = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)

# Built-in fields plus custom fields of every type (two of most), so custom columns are exercised too.
CATALOG = FieldCatalog(
    {
        "nickname": "string",
        "plan": "string",
        "ltv": "number",
        "vip": "boolean",
        "birthday": "date",
        "renewal_on": "date",
        "seen_at": "datetime",
        "last_seen": "datetime",
        "interests": "list",
    }
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()  # a contact without the key at all

# Every JSON rule `both` has evaluated in this process: the schema test checks each validates.
EVALUATED_RULES: list[Any] = []


def parse(rule: Any, catalog: FieldCatalog = CATALOG):
    return parse_rule(rule, catalog)


def contacts_batch(contacts: Sequence[Mapping[str, Any]], catalog: FieldCatalog = CATALOG, *,
                   only_present_columns: bool = False) -> pa.RecordBatch:
    """Contacts as one batch of the snapshot layout (a missing key is a null); `only_present_columns`
    leaves out the columns no contact has, as an older snapshot without a new field would."""
    schema = contacts_schema(catalog)
    if only_present_columns:
        present = {key for contact in contacts for key in contact}
        schema = pa.schema([f for f in schema if f.name in present or f.name == "contact_id"])
    return pa.RecordBatch.from_pylist([{k: v for k, v in c.items() if k in schema.names} for c in contacts],
                                      schema=schema)


def events_table(events: Sequence[Mapping[str, Any]], chunks: int = 1, *, verbatim: bool = False) -> pa.Table:
    """EVENTS_SCHEMA rows. Property values as the event log's writer stores them (strings; an empty
    or missing value becomes null), or with `verbatim` exactly as given ("" stays "", None is null):
    the reader must treat both forms of empty alike."""
    def stored(value: Any) -> Any:
        return value if verbatim else property_text(value)

    rows = [
        {
            "contact_id": e["contact_id"],
            "event": e["event"],
            "occurred_at": e["occurred_at"],
            "properties": [(k, stored(v)) for k, v in (e.get("properties") or {}).items()],
        }
        for e in events
    ]
    if not rows:
        return EVENTS_SCHEMA.empty_table()
    size = max(1, -(-len(rows) // max(1, chunks)))
    parts = [pa.Table.from_pylist(rows[i : i + size], schema=EVENTS_SCHEMA) for i in range(0, len(rows), size)]
    return pa.concat_tables(parts)


def split(batch: pa.RecordBatch, sizes: Iterable[int]) -> list[pa.RecordBatch]:
    """`batch` cut into consecutive batches of the given sizes (the rest as a last batch)."""
    out, start = [], 0
    for size in sizes:
        if start >= batch.num_rows:
            break
        out.append(batch.slice(start, size))
        start += size
    if start < batch.num_rows:
        out.append(batch.slice(start))
    return out


def dictionary_encoded(batch: pa.RecordBatch, catalog: FieldCatalog = CATALOG) -> pa.RecordBatch:
    """The same batch with every string column but contact_id dictionary-encoded (as snapshots read
    low-cardinality columns)."""
    arrays, fields = [], []
    for schema_field, column in zip(batch.schema, batch.columns, strict=True):
        if schema_field.name != "contact_id" and catalog.fields.get(schema_field.name) is FieldType.STRING:
            column = pc.dictionary_encode(column)
            schema_field = pa.field(schema_field.name, column.type)
        arrays.append(column)
        fields.append(schema_field)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def record_members(
    segments: Sequence[tuple[str, Any]],
    contacts: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    memberships: Mapping[str, Iterable[str]],
) -> dict[str, list[bool]]:
    """Per-record answers for every segment, references resolved in dependency order."""
    rules = dict(segments)
    static = {sid: set(ids) for sid, ids in memberships.items()}
    by_contact: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        by_contact.setdefault(event["contact_id"], []).append(event)
    answers: dict[str, list[bool]] = {sid: [] for sid in rules}
    order = dependency_order(rules)
    for contact in contacts:
        cid = contact["contact_id"]
        mine: dict[str, bool] = {}

        def member_of(sid: str, cid=cid, mine=mine) -> bool:
            return mine[sid] if sid in mine else cid in static.get(sid, ())

        for sid in order:
            mine[sid] = evaluate_record(rules[sid], contact, as_of=as_of, catalog=catalog,
                                        events=by_contact.get(cid, ()), member_of=member_of)
        for sid in rules:
            answers[sid].append(mine[sid])
    return answers


def vectorised_members(
    segments: Sequence[tuple[str, Any]],
    batches: Iterable[pa.RecordBatch],
    events: pa.Table,
    *,
    as_of: datetime,
    catalog: FieldCatalog,
    memberships: Mapping[str, Iterable[str]],
) -> dict[str, set[str]]:
    found = evaluate_segments(segments, batches, as_of=as_of, catalog=catalog, events=events,
                              memberships={sid: pa.array(list(ids), pa.string()) for sid, ids in memberships.items()})
    return {sid: set(ids.to_pylist()) for sid, ids in found.items()}


def agree(
    segments: Sequence[tuple[str, Any]],
    contacts: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]] = (),
    *,
    as_of: datetime = AS_OF,
    catalog: FieldCatalog = CATALOG,
    memberships: Mapping[str, Iterable[str]] | None = None,
    batch_sizes: Sequence[int] | None = None,
) -> dict[str, list[bool]]:
    """Both evaluators over parsed `segments`; asserts they agree and returns the per-contact answers."""
    memberships = memberships or {}
    expected = record_members(segments, contacts, events, as_of=as_of, catalog=catalog, memberships=memberships)
    batch = contacts_batch(contacts, catalog)
    batches = split(batch, batch_sizes) if batch_sizes else [batch]
    found = vectorised_members(segments, batches, events_table(events), as_of=as_of, catalog=catalog,
                               memberships=memberships)
    for sid, answers in expected.items():
        selected = {c["contact_id"] for c, yes in zip(contacts, answers, strict=True) if yes}
        assert found[sid] == selected, (
            f"segment {sid!r}: vectorised selected {sorted(found[sid])}, per-record {sorted(selected)}"
        )
    return expected


def both(
    rule: Any,
    values: Sequence[Any] | None = None,
    *,
    field: str | None = None,
    contacts: Sequence[Mapping[str, Any]] | None = None,
    events: Sequence[Mapping[str, Any]] = (),
    others: Mapping[str, Any] | None = None,
    memberships: Mapping[str, Iterable[str]] | None = None,
    as_of: datetime = AS_OF,
    catalog: FieldCatalog = CATALOG,
) -> list[bool]:
    """Answers of one JSON `rule` per contact from both evaluators (asserted equal), its `not` checked
    to be the exact complement on every contact.

    Contacts are either given, or built from `values`: contact `c{i}` holds `values[i]` in `field`.
    `others` are more segments (id -> JSON rule) evaluated in the same pass, for references."""
    if contacts is None:
        assert values is not None and field is not None
        contacts = [{"contact_id": f"c{i}", **({} if v is MISSING else {field: v})} for i, v in enumerate(values)]
    EVALUATED_RULES.append(rule)
    segments = [(sid, parse(r, catalog)) for sid, r in (others or {}).items()]
    segments += [("rule", parse(rule, catalog)), ("negated", parse({"not": rule}, catalog))]
    answers = agree(segments, contacts, events, as_of=as_of, catalog=catalog, memberships=memberships)
    assert answers["negated"] == [not a for a in answers["rule"]], "`not` is not the exact complement"
    return answers["rule"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day(text: str) -> date:
    return date.fromisoformat(text)


def example_rules() -> list[Any]:
    """Every JSON rule of the table tests (fields, dates, activity) plus a few composite ones: the
    corpus that validation round trips and the JSON Schema check run over."""
    from test_agreement_activity import AGGREGATE_CASES, WHERE_CASES
    from test_agreement_dates import DATE_CASES
    from test_agreement_fields import BOOLEAN_CASES, LIST_CASES, NUMBER_CASES, STRING_CASES

    rules = [p.values[0] for p in STRING_CASES + NUMBER_CASES + BOOLEAN_CASES + LIST_CASES + DATE_CASES]
    rules += [{"event": "purchase", "aggregate": aggregate} for aggregate, _ in AGGREGATE_CASES]
    rules += [{"event": "purchase", "where": [where], "within_last_days": 30} for where, _ in WHERE_CASES]
    rules += [
        {"event": "purchase"},
        {"segment": "us_hot"},
        {"not": {"segment": "static"}},
        {"all": [{"field": "country", "op": "eq", "value": "US"},
                 {"any": [{"not": {"event": "email_click", "within_last_days": 7}},
                          {"field": "tags", "op": "has_all", "value": ["vip", "newsletter"]},
                          {"segment": "hot"}]}]},
    ]
    return rules

"""A snapshot shows the scheduled run each stored contact exactly as the per-record evaluator sees it:
odd stored values of every field type (built-in and custom) select the same contacts through both."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from audience.evaluation import engine, snapshots
from audience.evaluation.placement import Slot
from audience.evaluation.run import run_tenant
from audience.fields import FieldType
from audience.rules import evaluate_record, parse_rule
from audience.rules.record import normalise
from audience.storage import contacts_repo, fields_repo, memberships_repo, segments_repo

AS_OF = datetime(2024, 6, 1, 12, tzinfo=UTC)

VALUES = {
    "string": [None, "", " ", "DE", "de", "Ünïcode straße", "x" * 300, 12, 0.5],
    "number": [None, 0, -1.5, 3, 99.25, "12", True, False, ""],
    "boolean": [None, True, False, "true", 1, 0, ""],
    "datetime": [None, "", "2024-05-30T10:00:00Z", "2024-05-30", "2024-06-01T12:00:00+02:00", "2023-01-01T00:00:00Z",
                 "2024-06-05T00:00:00Z", "not a date", 1700000000],
    "date": [None, "", "2024-06-15", "2024-05-20", "2024-06-01T23:30:00-05:00", "2020-02-29", "nope"],
    "list": [None, [], ["VIP"], ["vip", "b2b"], "vip", ["a", None], [None], [1, "B2B"], [""]],
}
FIELDS = {  # field -> type: built-in ones and custom ones declared below
    "country": "string", "company": "string", "score": "number", "age": "number", "subscribed": "boolean",
    "last_clicked_at": "datetime", "expected_purchase_date": "date", "tags": "list",
    "plan": "string", "ltv": "number", "beta": "boolean", "seen_at": "datetime", "trial_end": "date",
    "interests": "list",
}
CUSTOM = {"plan": "string", "ltv": "number", "beta": "boolean", "seen_at": "datetime", "trial_end": "date",
          "interests": "list"}
CONDITIONS = {
    "string": [("eq", "de"), ("neq", "DE"), ("in", ["de", "12"]), ("not_in", ["x"]), ("contains", "STR"),
               ("starts_with", "ü"), ("ends_with", "e"), ("matches", "^[A-Z]{2}$"), ("is_empty", None),
               ("is_not_empty", None), ("not_contains", "e")],
    "number": [("gt", 0), ("lte", 3), ("between", [0, 50]), ("in", [3, 12]), ("not_in", [0]), ("neq", 3),
               ("is_empty", None), ("is_not_empty", None)],
    "boolean": [("is_true", None), ("is_false", None), ("is_empty", None), ("is_not_empty", None)],
    "datetime": [("within_last_days", 3), ("more_than_days_ago", 30), ("within_next_days", 7),
                 ("on", "2024-05-30"), ("before", "2024-05-31T00:00:00Z"), ("is_empty", None)],
    "date": [("on", "2024-06-15"), ("after", "2024-06-01"), ("within_next_days", 20), ("more_than_days_ago", 3),
             ("between", ["2020-01-01", "2024-05-31"]), ("is_not_empty", None)],
    "list": [("has_any", ["VIP"]), ("has_all", ["vip", "b2b"]), ("has_none", ["b2b"]), ("is_empty", None),
             ("is_not_empty", None)],
}


def readable(row: dict, catalog) -> dict:
    """The row without values its field's type cannot read (a number under a datetime field, a
    non-date string): the snapshot stores those as empty, the per-record evaluator raises on them."""
    kept = {}
    for name, value in row.items():
        try:
            if name in FIELDS:
                normalise(FieldType(FIELDS[name]), value)
        except (TypeError, ValueError, AttributeError, OverflowError):
            continue
        kept[name] = value
    return kept


def test_every_odd_stored_value_is_seen_alike_by_the_run_and_the_per_record_evaluator(tenant, s3):
    for name, kind in CUSTOM.items():
        fields_repo.create(tenant, name, kind)
    catalog = fields_repo.catalog(tenant)
    rng = random.Random(19)
    for n in range(60):
        values = {field: rng.choice(VALUES[kind]) for field, kind in FIELDS.items()}
        contacts_repo.upsert(tenant, f"c{n:02d}", {k: v for k, v in values.items() if v is not None})
    rules = {}
    for field, kind in FIELDS.items():
        for op, value in CONDITIONS[kind]:
            condition = {"field": field, "op": op, **({"value": value} if value is not None else {})}
            for rule in (condition, {"not": condition}):
                rules[f"{len(rules):032x}"] = rule

    manifest = snapshots.build_snapshot(tenant, s3, now=AS_OF)  # what the run reads
    plan = engine.Plan(as_of=AS_OF, catalog=catalog, rules={sid: parse_rule(r, catalog) for sid, r in rules.items()},
                       slots=[Slot(sid) for sid in rules])
    selected = engine.evaluate(plan, snapshots.iter_batches(manifest, s3, catalog))

    rows = {c.contact_id: readable(c.as_row(), catalog) for c in contacts_repo.iter_all(tenant)}
    mismatches = []
    for sid, rule in plan.rules.items():
        expected = {cid for cid, row in rows.items() if evaluate_record(rule, row, as_of=AS_OF, catalog=catalog)}
        if set(selected[sid].to_pylist()) != expected:
            mismatches.append((rules[sid], sorted(set(selected[sid].to_pylist()) ^ expected)[:5]))
    assert mismatches == []
    assert 0 < sum(len(ids) for ids in selected.values()) < len(rules) * len(rows)  # not all-or-nothing


def test_a_value_the_field_type_cannot_read_is_empty_and_does_not_stop_the_run(tenant, s3):
    contacts_repo.upsert(tenant, "odd", {"last_clicked_at": 1700000000, "expected_purchase_date": "nope"})
    contacts_repo.upsert(tenant, "fine", {"last_clicked_at": "2024-05-31T00:00:00Z"})
    empty = segments_repo.create(tenant, name="No click date", type="dynamic",
                                 rules={"field": "last_clicked_at", "op": "is_empty"})

    result = run_tenant(tenant, as_of=AS_OF, s3=s3)

    assert result.failed == {}
    assert set(memberships_repo.iter_members(tenant, empty.id)) == {"odd"}


def test_a_first_snapshot_reads_its_pages_raw_with_what_the_repository_reads(tenant, s3, monkeypatch):
    """The full build reads the partition's Query pages raw (the next page fetched while one is
    converted) and no pynamodb model per contact: over several pages, with odd values of every type
    and an erased contact, the snapshot holds what ``contacts_repo.iter_all`` reads."""
    import pyarrow as pa
    from audience.storage import batch
    from audience.storage.models import ContactItem

    for name, kind in CUSTOM.items():
        fields_repo.create(tenant, name, kind)
    catalog = fields_repo.catalog(tenant)
    rng = random.Random(23)
    items = []
    for n in range(700):  # ~2 KB each: the partition spans more than one 1 MB page
        fields = {field: rng.choice(VALUES[kind]) for field, kind in FIELDS.items()}
        fields = {k: v for k, v in fields.items() if v is not None} | {"notes": f"{n} " + "x" * 2000}
        stamp = f"2024-05-{1 + n % 28:02d}T10:00:00.000Z"
        items.append(ContactItem(tenant, f"c{n:03d}", fields=fields, created_at=stamp, updated_at=stamp,
                                 gsi1pk=tenant, gsi1sk=f"{stamp}#c{n:03d}", version=1 + n % 3).serialize())
    batch.write(ContactItem, puts=items)
    contacts_repo.upsert(tenant, "gone", {"email": "gone@example.com"})
    contacts_repo.erase(tenant, "gone")
    expected = list(contacts_repo.iter_all(tenant))
    queries = []
    page = ContactItem._get_connection().connection.query  # noqa: SLF001

    def counted(*args, **kwargs):
        queries.append(kwargs.get("exclusive_start_key"))
        return page(*args, **kwargs)

    monkeypatch.setattr(ContactItem._get_connection().connection, "query", counted)  # noqa: SLF001

    def no_model(cls, data):
        raise AssertionError("a contact was read through a pynamodb model")

    monkeypatch.setattr(ContactItem, "from_raw_data", classmethod(no_model))

    manifest = snapshots.build_snapshot(tenant, s3, full=True, now=AS_OF, catalog=catalog)
    got = pa.Table.from_batches(list(snapshots.iter_batches(manifest, s3, catalog)))
    want = pa.Table.from_batches([snapshots.contacts_batch(expected, catalog)])
    assert sorted(got.to_pylist(), key=lambda r: r["contact_id"]) == sorted(want.to_pylist(),
                                                                            key=lambda r: r["contact_id"])
    assert manifest.contact_count == len(expected) == 700
    assert manifest.watermark == max(c.updated_at for c in expected)
    assert len(queries) >= 2 and queries[0] is None  # several pages, each asked once

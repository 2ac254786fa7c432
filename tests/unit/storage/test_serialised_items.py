"""Memberships and history entries built as attribute maps: exactly what their pynamodb models store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from audience.storage import membership_history_repo, memberships_repo
from audience.storage.membership_history_repo import Cause, HistoryEntryItem, contact_history_pk, history_pk
from audience.storage.models import MembershipItem, by_contact_pk, membership_pk


@pytest.mark.parametrize("category", [None, "lifecycle", ""])
def test_a_membership_item_is_what_the_model_serialises(category):
    built = memberships_repo._item("t1", "s1", "c1", "dynamic", category, "2026-12-06T10:00:00.123456+00:00")
    model = MembershipItem(membership_pk("t1", "s1"), "c1", gsi1pk=by_contact_pk("t1", "c1"), gsi1sk="s1",
                           source="dynamic", category=category, added_at="2026-12-06T10:00:00.123456+00:00")
    assert built == model.serialize()


@pytest.mark.parametrize(
    "cause",
    [Cause("run", "run-1", 3), Cause("run", "run-2", 0), Cause("api"), Cause("stream", at="2026-01-02T03:04:05.678Z")],
)
def test_history_entries_are_what_the_model_serialises(cause, monkeypatch):
    monkeypatch.setattr(membership_history_repo, "retention_days", lambda tenant: 400)
    built = membership_history_repo.entries("t1", "s1", ["c1", "c2"], "joined", cause)
    at = built[0]["sk"]["S"].split("#", 1)[0]
    expires = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=400)
    models = [
        HistoryEntryItem(history_pk("t1", "s1"), f"{at}#{c}#joined", gsi1pk=contact_history_pk("t1", c),
                         gsi1sk=f"{at}#s1#joined", source=cause.source, run_id=cause.run_id,
                         rules_version=cause.rules_version, ttl=expires.astimezone(UTC))
        for c in ("c1", "c2")
    ]
    assert built == [model.serialize() for model in models]
    assert cause.at is None or at == cause.at


def test_a_history_entry_stores_only_what_its_keys_do_not_spell(monkeypatch):
    """Segment, contact, change and moment are in the keys: a run writes one entry per membership it
    changes, and the four attributes were a third of each entry."""
    monkeypatch.setattr(membership_history_repo, "retention_days", lambda tenant: 30)
    (entry,) = membership_history_repo.entries("t1", "s1", ["c#1"], "left", Cause("run", "run-1", 2))
    assert set(entry) == {"pk", "sk", "gsi1pk", "gsi1sk", "source", "run_id", "rules_version", "ttl"}
    at = entry["sk"]["S"].split("#", 1)[0]
    assert membership_history_repo._parts(entry["pk"]["S"], entry["sk"]["S"]) == ("s1", "c#1", "left", at)

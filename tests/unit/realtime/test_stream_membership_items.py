"""The stream's membership puts are attribute maps equal to what ``StampedMembership`` serialises."""

from __future__ import annotations

import pytest
from audience.realtime import batched, stamps
from audience.realtime.batched import Join, write_memberships
from audience.storage.models import by_contact_pk, membership_pk


@pytest.mark.parametrize("category", [None, "tier", ""])
def test_membership_puts_are_what_the_stamped_model_serialises(category, monkeypatch):
    written = {}

    def capture(model, puts=(), delete_keys=()):
        written.update(model=model, puts=list(puts), deletes=list(delete_keys))
        return len(written["puts"]) + len(written["deletes"])

    monkeypatch.setattr(batched.batch, "write", capture)
    monkeypatch.setattr(batched, "now_iso", lambda: "2026-12-06T10:00:00.000Z")
    added, removed = write_memberships("t1", "c1", "2026-12-06T09:00:00.000Z", [Join("s1", category)], ["s2"])
    assert (added, removed) == (["s1"], ["s2"])
    model = stamps.StampedMembership(
        membership_pk("t1", "s1"),
        "c1",
        gsi1pk=by_contact_pk("t1", "c1"),
        gsi1sk="s1",
        source="dynamic",
        category=category,
        added_at="2026-12-06T10:00:00.000Z",
        evaluated_at="2026-12-06T09:00:00.000Z",
    )
    assert written["model"] is stamps.StampedMembership
    assert written["puts"] == [model.serialize()]
    assert written["deletes"] == [{"pk": membership_pk("t1", "s2"), "sk": "c1"}]

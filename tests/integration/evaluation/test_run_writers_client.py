"""A container's first scheduled run builds the botocore clients its segment writers use (memberships,
the day's counters, the stream's watermarks) once, before they start: each writer thread that found
none built its own (three at once, each from a new botocore session parsing botocore's data files
again, ~0.1-0.2 s of CPU each)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import botocore.session
from audience.evaluation.run import run_tenant
from audience.realtime.stamps import StreamWatermark
from audience.storage import contacts_repo, memberships_repo, segments_repo
from audience.storage.models import HistoryDayItem, MembershipItem


def test_a_first_run_of_several_segments_builds_the_memberships_client_once(tenant, s3, monkeypatch):
    for n in range(30):
        contacts_repo.upsert(tenant, f"c{n:03d}", {"email": f"c{n}@example.com", "score": n})
    ids = [
        segments_repo.create(
            tenant, name=f"score {low}+", type="dynamic", rules={"field": "score", "op": "gte", "value": low}
        ).id
        for low in (0, 10, 20, 25)
    ]
    for model in (MembershipItem, HistoryDayItem, StreamWatermark):
        model._connection = None  # noqa: SLF001 - as in a new container: no client built yet
    built: list[str] = []
    create_client = botocore.session.Session.create_client

    def counting(self, service, *args, **kwargs):
        if service == "dynamodb":
            built.append(threading.current_thread().name)
        return create_client(self, service, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    run_tenant(tenant, as_of=datetime(2024, 6, 1, 12, tzinfo=UTC), s3=s3)
    memberships = [c for c in built if c != threading.main_thread().name]
    assert memberships == [], f"built on the writers' threads: {memberships}"
    assert [memberships_repo.count(tenant, sid) for sid in ids] == [30, 20, 10, 5]

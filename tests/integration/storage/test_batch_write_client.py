"""A batch write's workers share one botocore client: the first write of a fresh connection builds
it once, not once per worker thread (each from a new botocore session that parses the data files)."""

from __future__ import annotations

import threading

import botocore.session
from audience.storage import memberships_repo
from audience.storage.models import MembershipItem


def test_the_first_parallel_batch_write_of_a_fresh_connection_builds_one_client(aws, monkeypatch):
    MembershipItem._connection = None  # as in a new container: no client built yet  # noqa: SLF001
    built: list[str] = []
    create_client = botocore.session.Session.create_client

    def counting(self, *args, **kwargs):
        built.append(threading.current_thread().name)
        return create_client(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    ids = [f"c{n:04d}" for n in range(400)]  # 16 requests: the pool's every worker has some
    assert memberships_repo.add_many("acme", "s1", ids) == 400
    assert len(built) == 1
    assert memberships_repo.count("acme", "s1") == 400

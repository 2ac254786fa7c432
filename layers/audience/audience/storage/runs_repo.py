"""Evaluation runs and the per-tenant lease (MainTable ``T#{tenant}#RUN`` / ``RUN#{id}``, ``LEASE``).

The lease keeps two evaluators (schedule and on-demand) from writing one tenant's memberships at the
same time; it expires by itself so a crashed run never blocks the next one.
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from audience.storage.base import now_iso
from audience.storage.models import LeaseItem, RunItem, run_pk
from audience.storage.paging import condition_failed
from audience.storage.records import Run

RUN_PREFIX = "RUN#"
LEASE_SK = "LEASE"


def acquire_lease(tenant: str, owner: str, seconds: int) -> bool:
    """Take (or extend our own) lease for ``seconds``; False while someone else holds a live one."""
    now = int(time.time())
    item = LeaseItem(run_pk(tenant), LEASE_SK, owner=owner, expires_at=now + seconds)
    condition = LeaseItem.pk.does_not_exist() | (LeaseItem.expires_at < now) | (LeaseItem.owner == owner)
    try:
        item.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def release_lease(tenant: str, owner: str) -> None:
    try:
        LeaseItem(run_pk(tenant), LEASE_SK).delete(condition=LeaseItem.owner == owner)
    except DeleteError as exc:
        if not condition_failed(exc):
            raise


def _record(item: RunItem) -> Run:
    return Run(
        run_id=item.run_id,
        status=item.status,
        as_of=item.as_of,
        snapshot_id=item.snapshot_id,
        detail=dict(item.detail or {}),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def put_run(
    tenant: str,
    run_id: str,
    status: str,
    *,
    as_of: str | None = None,
    snapshot_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Run:
    """Create or overwrite the run record (the latest state of one run)."""
    existing = get_run(tenant, run_id)
    stamp = now_iso()
    item = RunItem(
        run_pk(tenant),
        RUN_PREFIX + run_id,
        run_id=run_id,
        status=status,
        as_of=as_of,
        snapshot_id=snapshot_id,
        detail=detail or {},
        created_at=existing.created_at if existing else stamp,
        updated_at=stamp,
    )
    item.save()
    return _record(item)


def get_run(tenant: str, run_id: str) -> Run | None:
    try:
        return _record(RunItem.get(run_pk(tenant), RUN_PREFIX + run_id, consistent_read=True))
    except DoesNotExist:
        return None


def recent_runs(tenant: str, limit: int = 20) -> list[Run]:
    """Newest first, assuming run ids sort by time (the evaluator uses ISO-stamped ids)."""
    items = RunItem.query(run_pk(tenant), RunItem.sk.startswith(RUN_PREFIX), scan_index_forward=False, limit=limit)
    return [_record(item) for item in items]


def transition(tenant: str, run_id: str, expected: str, status: str) -> bool:
    """Move a run from ``expected`` to ``status`` atomically (conditional update); False when the run
    is not in ``expected`` (e.g. two shards of a fanned-out run both try to finish it)."""
    item = RunItem(run_pk(tenant), RUN_PREFIX + run_id)
    try:
        item.update(
            actions=[RunItem.status.set(status), RunItem.updated_at.set(now_iso())],
            condition=RunItem.status == expected,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True

"""Few DynamoDB requests per stream batch: a contact's membership writes batched (25 per
BatchWriteItem), the batch's segment counters and history days in one transaction (per 50 segments)
when the container knows the counts, else one transaction each (per 100).

The counters' transaction keeps their condition (the segment still exists): one that fails writes
nothing, and its chunk then goes one request per segment, which skips the missing ones. The totals
the history days record are read back with one consistent BatchGet after the counters moved.
A change alone in its invocation goes in conditional transactions instead (``transact_change``),
its history day kept on the segment item with the count (``storage.history_repo``'s open day).
Membership writes are not transactions: moto copies every touched table per transaction item, which
made the local stack quadratic in the memberships table, and the writes need no condition (see
``write_memberships``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError

from audience.realtime import stamps
from audience.segments.placement import record_change
from audience.settings import get_settings
from audience.storage import (
    batch,
    history_repo,
    membership_history_repo,
    memberships_repo,
    rules_version,
    segments_repo,
)
from audience.storage.base import connection, now_iso
from audience.storage.history_repo import OpenDay
from audience.storage.membership_history_repo import Cause
from audience.storage.models import HistoryDayItem, SegmentItem, history_pk, membership_pk, tenant_pk
from audience.storage.paging import chunks

TRANSACTION_ITEMS = 100  # DynamoDB's limit of actions per TransactWriteItems
BATCH_GET_ITEMS = 100


@dataclass(frozen=True)
class Join:
    segment_id: str
    category: str | None


def write_memberships(
    tenant: str, contact_id: str, changed_at: str | None, joins: Sequence[Join], leaves: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Put `joins` and delete `leaves` for one contact, 25 per BatchWriteItem; (joined, left).

    The caller has claimed the contact's watermark (no older record of the contact writes after a
    newer one: a stream shard orders a key's records) and read its memberships consistently after the
    claim, so `joins` are absent and `leaves` present as of that read, and the counts move by these.
    A scheduled run writing the same membership in between leaves its count off by one until a run
    sets the counts outright. `changed_at` None (erasure) only deletes."""
    stamp = changed_at or now_iso()
    added_at = now_iso()
    puts = [  # attribute maps, as ``StampedMembership`` stores them, without a model per membership
        {
            **memberships_repo._item(tenant, join.segment_id, contact_id, "dynamic", join.category, added_at),
            "evaluated_at": {"S": stamp},
        }
        for join in joins
    ]
    deletes = [{"pk": membership_pk(tenant, segment_id), "sk": contact_id} for segment_id in leaves]
    if puts or deletes:
        batch.write(stamps.StampedMembership, puts=puts, delete_keys=deletes)
    return [join.segment_id for join in joins], list(leaves)


class Refused(Exception):
    """A transaction of ``transact_change`` was cancelled: nothing of it was written. ``reason``:
    ``stale`` (a newer change of the contact was applied), ``rules`` (the tenant's rules stamp moved),
    ``moved`` (a membership or a count is not what the caller read: read again and retry). ``added``
    and ``removed``: what the transactions before this one wrote (a change split over several)."""

    def __init__(self, reason: str, added: list[str], removed: list[str]) -> None:
        super().__init__(reason)
        self.reason, self.added, self.removed = reason, added, removed


def transact_change(
    tenant: str,
    contact_id: str,
    changed_at: str,
    joins: Sequence[Join],
    leaves: Sequence[str],
    rules_stamp: str | None,
    known: dict[tuple[str, str], int],
    today: str,
    days: dict[tuple[str, str], OpenDay | None],
) -> tuple[list[str], list[str]]:
    """One change's writes in as few requests as DynamoDB allows (a change alone in its invocation):
    the watermark claim, the check of the rules stamp, and per segment moved its membership put or
    delete, its history entry, and its counter with today's history (the segment item's open day,
    ``storage.history_repo``), packed into TransactWriteItems of up to 100 actions (the claim and the
    check in the first; a segment's actions never split). With 100 dynamic segments: 2 + 3 x moved
    actions, so up to 32 moves in one transaction, 98 in three, all 100 in four. The first change of
    a segment on a later day than its open day also writes that day out: one more action for it
    (once per segment per day).

    Every action that depends on what the caller read is conditional: the claim (no newer change
    applied), the stamp (the rules decided with are current), the membership (a put only while absent,
    a delete only while present: what the consistent read found), the counter (set to known + delta
    only while it still holds the count in ``known``, every moved segment's must be there,
    ``know_counts``; and while its open day is today's or none, or, when ``days`` holds an earlier
    one, exactly that day, which it writes out: a segment missing from ``days`` is taken to hold
    today's or none: a wrong guess cancels the transaction, and the next attempt reads it). So a
    transaction writes all of a segment's state or none of it, and counts and days stay exact against
    redelivery, a crash between transactions (the next attempt reads what is stored) and concurrent
    writers. Raises ``Refused`` on a cancelled
    transaction; ``known`` and ``days`` follow what was written. (the joined, left) segments.
    Transactions cost twice the write units of plain writes: stream batches of many records keep the
    cheaper batched path (``write_memberships`` and ``flush_counts``)."""
    settings = get_settings()
    memberships, main = settings.memberships_table, settings.main_table
    at = now_iso()
    cause = Cause("stream", at=at)
    groups: list[tuple[str, bool, list[dict[str, Any]]]] = []  # (segment, joined, its actions)
    for join in joins:
        put = {
            **memberships_repo._item(tenant, join.segment_id, contact_id, "dynamic", join.category, at),
            "evaluated_at": {"S": changed_at},
        }
        key = (tenant, join.segment_id)
        groups.append(
            (
                join.segment_id,
                True,
                [
                    {"Put": {"TableName": memberships, "Item": put, "ConditionExpression": "attribute_not_exists(pk)"}},
                    *_history_put(memberships, tenant, join.segment_id, contact_id, "joined", cause),
                    *_counter_with_open_day(main, tenant, join.segment_id, 1, known[key], days.get(key), today, at),
                ],
            )
        )
    for segment_id in leaves:
        key = {"pk": {"S": membership_pk(tenant, segment_id)}, "sk": {"S": contact_id}}
        groups.append(
            (
                segment_id,
                False,
                [
                    {"Delete": {"TableName": memberships, "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
                    *_history_put(memberships, tenant, segment_id, contact_id, "left", cause),
                    *_counter_with_open_day(
                        main,
                        tenant,
                        segment_id,
                        -1,
                        known[(tenant, segment_id)],
                        days.get((tenant, segment_id)),
                        today,
                        at,
                    ),
                ],
            )
        )
    first = [
        {"Update": stamps.claim_update(memberships, tenant, contact_id, changed_at)},
        rules_version.unchanged_check(tenant, rules_stamp),
    ]
    parts: list[list[tuple[str, bool, list[dict[str, Any]]]]] = [[]]
    room = TRANSACTION_ITEMS - len(first)
    for group in groups:  # greedy: each transaction as full as whole segments allow
        if len(group[2]) > room:
            parts.append([])
            room = TRANSACTION_ITEMS
        parts[-1].append(group)
        room -= len(group[2])
    added: list[str] = []
    removed: list[str] = []
    client = connection().client
    for number, part in enumerate(parts):
        lead = first if number == 0 else []
        actions = lead + [action for _, _, actions_of in part for action in actions_of]
        try:
            client.transact_write_items(TransactItems=actions, ClientRequestToken=str(uuid.uuid4()))
        except ClientError as exc:
            error = exc.response.get("Error", {}).get("Code")
            if error not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            codes = [reason.get("Code") for reason in exc.response.get("CancellationReasons") or []]
            if lead and codes[:1] == ["ConditionalCheckFailed"]:
                raise Refused("stale", added, removed) from exc
            if lead and codes[1:2] == ["ConditionalCheckFailed"]:
                raise Refused("rules", added, removed) from exc
            offset, guessed = len(lead), [(tenant, sid) for later in parts[number:] for sid, _, _ in later]
            guessed = [key for key in guessed if key not in days]  # open days taken to be today's or none
            for segment_id, _, actions_of in part:
                if "ConditionalCheckFailed" in codes[offset : offset + len(actions_of)]:
                    known.pop((tenant, segment_id), None)  # read again before the next attempt
                    days.pop((tenant, segment_id), None)
                offset += len(actions_of)
            if any(key not in known for key in guessed):  # a wrong guess: likely a new day for all of them
                for key in guessed:
                    known.pop(key, None)
            raise Refused("moved", added, removed) from exc
        for segment_id, joined, _ in part:
            (added if joined else removed).append(segment_id)
            key = (tenant, segment_id)
            known[key] += 1 if joined else -1
            days[key] = _opened(days.get(key), today, int(joined), int(not joined), known[key], at)
    return added, removed


def _opened(before: OpenDay | None, today: str, added: int, removed: int, total: int, at: str) -> OpenDay:
    """The open day after a change moved it (``_counter_with_open_day``)."""
    if before is None or before.day < today:
        return OpenDay(today, added, removed, total, at)
    return OpenDay(before.day, before.added + added, before.removed + removed, total, at)


def _counter_with_open_day(
    table: str,
    tenant: str,
    segment_id: str,
    delta: int,
    before: int,
    opened: OpenDay | None,
    today: str,
    at: str,
) -> list[dict[str, Any]]:
    """The action moving one segment's counter by ``delta`` (+1 or -1) and today's history with it, in
    one conditional update of the segment item, while it holds the count ``before`` and:

    - the open day ``opened`` is today's, or none (a day not yet opened, what ``opened`` None says):
      the condition accepts either (another writer may have opened today meanwhile: ADD is exact both
      ways), and the day's figures move by ADD;
    - ``opened`` is an earlier day: that day must be exactly as ``opened`` holds it (it is written
      out as the item ``DAY#{day}#open`` by a second action) and today opens with this change.

    A clock behind the day stored (another container's) writes into the stored day."""
    after = before + delta
    key = {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": segments_repo.PREFIX + segment_id}}
    names = {
        "#count": "member_count",
        "#day": "day",
        "#da": "day_added",
        "#dr": "day_removed",
        "#dt": "day_total",
        "#dat": "day_at",
    }
    values: dict[str, Any] = {
        ":before": {"N": str(before)},
        ":after": {"N": str(after)},
        ":a": {"N": str(int(delta > 0))},
        ":r": {"N": str(int(delta < 0))},
        ":at": {"S": at},
    }
    if opened is None or opened.day >= today:
        day = today if opened is None else opened.day
        update = {
            "ConditionExpression": "#count = :before AND (attribute_not_exists(#day) OR #day = :day)",
            "UpdateExpression": "SET #count = :after, #day = :day, #dt = :after, #dat = :at ADD #da :a, #dr :r",
        }
        values[":day"] = {"S": day}
        written_out: list[dict[str, Any]] = []
    else:
        update = {
            "ConditionExpression": "#count = :before AND #day = :old AND #da = :oa AND #dr = :or AND #dt = :ot"
            + (" AND #dat = :oat" if opened.at else " AND attribute_not_exists(#dat)"),
            "UpdateExpression": "SET #count = :after, #day = :day, #da = :a, #dr = :r, #dt = :after, #dat = :at",
        }
        values.update(
            {
                ":day": {"S": today},
                ":old": {"S": opened.day},
                ":oa": {"N": str(opened.added)},
                ":or": {"N": str(opened.removed)},
                ":ot": {"N": str(opened.total)},
            }
        )
        if opened.at:
            values[":oat"] = {"S": opened.at}
        written_out = [history_repo.open_day_item(table, tenant, segment_id, opened)]
    counter = {
        "Update": {
            "TableName": table,
            "Key": key,
            **update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }
    return [counter, *written_out]


def _history_put(table: str, tenant: str, segment_id: str, contact_id: str, change: str, cause: Cause):
    return [
        {"Put": {"TableName": table, "Item": item}}
        for item in membership_history_repo.entries(tenant, segment_id, [contact_id], change, cause)
    ]  # type: ignore[arg-type]


def know_counts(
    keys: Iterable[tuple[str, str]],
    known: dict[tuple[str, str], int],
    days: dict[tuple[str, str], OpenDay | None] | None = None,
) -> bool:
    """Make sure ``known`` holds the count of every segment in ``keys`` (one consistent BatchGet per
    100 of those it lacks, which also puts their open days in ``days`` when given); False when one of
    them no longer exists."""
    missing = [key for key in dict.fromkeys(keys) if key not in known]
    if not missing:
        return True
    found = _states(missing)
    known.update({key: count for key, (count, _) in found.items()})
    if days is not None:
        days.update({key: opened for key, (_, opened) in found.items()})
    return len(found) == len(missing)


def _condition_failed(exc: TransactWriteError) -> bool:
    reasons = [r for r in (exc.cancellation_reasons or []) if r is not None]
    return exc.cause_response_code == "TransactionCanceledException" and any(
        r.code == "ConditionalCheckFailed" for r in reasons
    )


def flush_counts(
    deltas: Mapping[tuple[str, str], tuple[int, int]], today: str, known: dict[tuple[str, str], int] | None = None
) -> None:
    """Move each segment's count by (added - removed) and today's history by both.

    Segments whose count is in ``known`` (what this container last saw the count to be: read with the
    tenant's rules or written by its last flush) move in one transaction with their history days, 50
    segments (100 actions) per transaction: each counter is set to known + delta only while it still
    holds the known count, so the day records the exact total without reading it back. When any count
    moved meanwhile (another invocation, a scheduled run, a static change) or a segment went, the
    transaction writes nothing and its segments go the general way with the others: per 100 segments
    one transaction of counters, one consistent BatchGet of the new totals, one transaction of days
    (a segment deleted meanwhile cancels its chunk's counter transaction; the chunk then goes one
    request per segment, which skips missing segments). ``known`` is kept up to date with the counts
    written or read, and forgets those it cannot vouch for."""
    known = {} if known is None else known
    pending = sorted(deltas.items())
    general = [(key, delta) for key, delta in pending if key not in known]
    for chunk in chunks([(key, delta) for key, delta in pending if key in known], TRANSACTION_ITEMS // 2):
        if not _transact_known(chunk, known, today):
            general.extend(chunk)
    for chunk in chunks(sorted(general), TRANSACTION_ITEMS):
        moving = [(key, delta) for key, delta in chunk if delta[0] != delta[1]]
        if moving and not _transact_counters(moving):
            _flush_one_by_one(chunk, today)
            for key, _ in chunk:
                known.pop(key, None)
            continue
        totals = _totals([key for key, _ in chunk])
        for key, _ in chunk:
            if key in totals:
                known[key] = totals[key]
            else:
                known.pop(key, None)
        _transact_history([(key, delta, totals[key]) for key, delta in chunk if key in totals], today)


def _transact_known(
    chunk: Sequence[tuple[tuple[str, str], tuple[int, int]]], known: dict[tuple[str, str], int], today: str
) -> bool:
    """Counters and history days of segments with known counts in one transaction (raw requests);
    False, with nothing written, when a count was not the known one (or the segment is gone)."""
    table = get_settings().main_table
    actions: list[dict[str, Any]] = []
    for (tenant, segment_id), (added, removed) in chunk:
        actions += _counter_and_day(table, tenant, segment_id, added, removed, known[(tenant, segment_id)], today)
    try:
        connection().client.transact_write_items(TransactItems=actions)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        for key, _ in chunk:
            known.pop(key, None)  # the general way reads them again
        return False
    for (tenant, segment_id), (added, removed) in chunk:
        known[(tenant, segment_id)] += added - removed
    return True


def _counter_and_day(
    table: str, tenant: str, segment_id: str, added: int, removed: int, before: int, today: str
) -> list[dict[str, Any]]:
    """The two actions that move one segment whose count is known to be ``before``: its counter set
    to before + added - removed only while it still holds ``before`` (a ConditionCheck of that when
    the count does not move), and today's history day with the exact new total."""
    after = before + added - removed
    key = {"pk": {"S": tenant_pk(tenant)}, "sk": {"S": segments_repo.PREFIX + segment_id}}
    holds = {"ConditionExpression": "#count = :before", "ExpressionAttributeNames": {"#count": "member_count"}}
    if added != removed:
        counter = {
            "Update": {
                "TableName": table,
                "Key": key,
                **holds,
                "UpdateExpression": "SET #count = :after",
                "ExpressionAttributeValues": {":before": {"N": str(before)}, ":after": {"N": str(after)}},
            }
        }
    else:
        counter = {
            "ConditionCheck": {
                "TableName": table,
                "Key": key,
                **holds,
                "ExpressionAttributeValues": {":before": {"N": str(before)}},
            }
        }
    return [counter, history_repo.day_update(table, tenant, segment_id, today, added, removed, after, now_iso())]


def _transact_counters(moving: Iterable[tuple[tuple[str, str], tuple[int, int]]]) -> bool:
    connection = SegmentItem._get_connection()
    updates = [
        connection.get_operation_kwargs(
            tenant_pk(tenant),
            range_key=segments_repo.PREFIX + segment_id,
            actions=[SegmentItem.member_count.add(int(added - removed))],
            condition=SegmentItem.pk.exists(),
        )
        for (tenant, segment_id), (added, removed) in moving
    ]
    try:
        connection.connection.transact_write_items(
            condition_check_items=[], delete_items=[], put_items=[], update_items=updates
        )
    except TransactWriteError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def _totals(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Member counts now (consistent), of the segments that still exist."""
    return {key: count for key, (count, _) in _states(keys).items()}


def _states(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, OpenDay | None]]:
    """Member counts and open days now (consistent), of the segments that still exist."""
    found: dict[tuple[str, str], tuple[int, OpenDay | None]] = {}
    by_item = {(tenant_pk(tenant), segments_repo.PREFIX + sid): (tenant, sid) for tenant, sid in keys}
    attributes = ["pk", "sk", "member_count", *history_repo.OPEN_DAY_ATTRIBUTES]
    for part in chunks(list(by_item), BATCH_GET_ITEMS):
        for item in SegmentItem.batch_get(part, consistent_read=True, attributes_to_get=attributes):
            found[by_item[(item.pk, item.sk)]] = (int(item.member_count or 0), history_repo.open_day_of(item))
    return found


def _transact_history(days: Sequence[tuple[tuple[str, str], tuple[int, int], int]], today: str) -> None:
    if not days:
        return
    connection = HistoryDayItem._get_connection()
    at = now_iso()
    updates = [
        connection.get_operation_kwargs(
            history_pk(tenant, segment_id),
            range_key=history_repo.PREFIX + today,
            actions=[
                HistoryDayItem.added.add(int(added)),
                HistoryDayItem.removed.add(int(removed)),
                HistoryDayItem.total.set(int(total)),
                HistoryDayItem.at.set(at),
            ],
        )
        for (tenant, segment_id), (added, removed), total in days
    ]
    connection.connection.transact_write_items(
        condition_check_items=[], delete_items=[], put_items=[], update_items=updates
    )


def _flush_one_by_one(chunk: Sequence[tuple[tuple[str, str], tuple[int, int]]], today: str) -> None:
    for (tenant, segment_id), (added, removed) in chunk:
        if added != removed:
            record_change(tenant, segment_id, added=added, removed=removed, day=today)
            continue
        segment = segments_repo.find(tenant, segment_id)
        if segment is not None:
            history_repo.add_day(tenant, segment_id, today, added, removed, segment.member_count)

"""Apply one contact change to its dynamic memberships: write only what changed.

For each change: claim the contact's watermark (a stale or out-of-order record stops here; a batch's
contacts are claimed together first, ``TenantCache.prefetch_claims``, 100 per transaction), decide
the dynamic segments the contact joins now, compare with the memberships stored (read for the
batch's claimed contacts together, 100 keys per consistent BatchGet), and add/remove only the
differences, 25 per BatchWriteItem (``realtime.batched``); each membership added or removed moves
the segment's ``member_count`` and today's history by one, summed over the batch and written at its
end. A change alone in its invocation reads its memberships and then claims and writes everything
(memberships, history entries, counters with today's history in the same update of the segment
item) in conditional transactions of 100 actions instead (``_apply_alone``): fewer requests than the
batch's way when nothing is shared. Segments the contact
neither is nor should be in cost nothing. An erased contact loses every membership.

A tenant without dynamic segments (``TenantCache.quiet``: a bulk import before any segment exists)
has nothing to decide: its changes claim no watermark and write nothing; only its rules stamp is
checked, once per batch. Why no watermark is needed there is argued in ``TenantCache.quiet``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audience.realtime import stamps
from audience.realtime.activity import ActivityWindow
from audience.realtime.batched import Join, Refused, flush_counts, know_counts, transact_change, write_memberships
from audience.realtime.changes import ContactChange
from audience.realtime.decide import decide
from audience.realtime.tenant_rules import TenantRules, load_tenant_rules
from audience.rules.record import as_utc
from audience.settings import get_settings
from audience.storage import membership_history_repo, memberships_repo, rules_version
from audience.storage.history_repo import OpenDay
from audience.storage.membership_history_repo import Cause


@dataclass
class Outcome:
    contact_id: str
    # "applied", "stale" (an older record than one already applied) or "quiet" (the tenant has no
    # dynamic segment: nothing decided, nothing claimed, ``TenantCache.quiet``)
    status: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_by_run: list[str] = field(default_factory=list)  # segments a newer scheduled run decided


class KeptRules:
    """Per container (one module-level instance): each tenant's rules with the rules stamp read
    before them (``storage.rules_version``), and the member counts of its dynamic segments as this
    container last saw them. Rules kept here are used only behind a claim that checked their stamp
    in the same transaction (``stamps.claim``/``claim_many``), so a warm container reads no rules for
    a change while they are current, and reloads them as soon as a rule-bearing write moved the stamp.
    Everything is dropped when the settings change (another deployment's tables, a test's moto)."""

    def __init__(self) -> None:
        self._settings: object | None = None
        self._rules: dict[str, tuple[str | None, TenantRules]] = {}
        self.counts: dict[tuple[str, str], int] = {}  # (tenant, segment) -> member_count last seen
        # (tenant, segment) -> its open day as last read or written (kept across rules reloads: the
        # writes check it); a segment not here is taken to hold today's or none (``transact_change``)
        self.days: dict[tuple[str, str], OpenDay | None] = {}

    def _current(self) -> None:
        settings = get_settings()
        if settings is not self._settings:
            self._settings, self._rules, self.counts, self.days = settings, {}, {}, {}

    def get(self, tenant: str) -> tuple[str | None, TenantRules] | None:
        self._current()
        return self._rules.get(tenant)

    def load(self, tenant: str) -> tuple[str | None, TenantRules]:
        """The tenant's rules read now, the stamp read first (a write between the two reads leaves an
        older stamp with newer rules: the next claim fails its check and they are read again)."""
        self._current()
        stamp, pending = rules_version.read(tenant)
        rules = load_tenant_rules(tenant)
        if pending:  # a run is between its evaluations' writes (or died there): read them again next time
            self._rules.pop(tenant, None)
        else:
            self._rules[tenant] = (stamp, rules)
        for key in [key for key in self.counts if key[0] == tenant]:
            del self.counts[key]
        self.counts.update({(tenant, sid): segment.member_count for sid, segment in rules.dynamic.items()})
        return stamp, rules


KEPT = KeptRules()


class TenantCache:
    """Per invocation: each tenant's rules (kept per container in ``KEPT``, checked by the claims)
    and activity window, shared by every record of the batch."""

    def __init__(self, s3_client: Callable[[], Any], *, as_of: datetime | None = None):
        self.as_of = as_utc(as_of or datetime.now(UTC))
        self._s3_client = s3_client
        self._rules: dict[str, TenantRules] = {}
        self._stamps: dict[str, str | None] = {}  # tenant -> stamp of the rules in self._rules
        self._windows: dict[str, ActivityWindow] = {}
        self._deltas: dict[tuple[str, str], list[int]] = {}  # (tenant, segment) -> [added, removed]
        self._changes: dict[str, list[tuple[str, str, str]]] = {}  # tenant -> (segment, contact, change)
        self._erased: list[tuple[str, str]] = []  # (tenant, contact): their history goes at flush
        self._claimed: set[tuple[str, str, str]] = set()  # (tenant, contact, changed_at) claimed in bulk
        self._current: dict[tuple[str, str], set[str]] = {}  # (tenant, contact) -> dynamic segments held
        self.alone = False  # the invocation holds one change: it goes in transactions (``apply_change``)
        self._fresh: set[str] = set()  # tenants whose rules (and stamp) were read in this invocation
        self._quiet: dict[str, bool] = {}  # tenant -> no dynamic segment, checked (``quiet``)

    def note(self, tenant: str, segment_id: str, contact_id: str, change: str) -> None:
        """A membership the stream changed, for the history entries ``flush`` writes in one batch."""
        self._changes.setdefault(tenant, []).append((segment_id, contact_id, change))

    def note_erased(self, tenant: str, contact_id: str) -> None:
        self._erased.append((tenant, contact_id))

    def count(self, tenant: str, segment_id: str, *, added: int = 0, removed: int = 0) -> None:
        """Note a membership that really appeared or went; ``flush`` moves counts and history."""
        delta = self._deltas.setdefault((tenant, segment_id), [0, 0])
        delta[0] += added
        delta[1] += removed

    def flush(self) -> None:
        """Counts and history moved per batch, not per membership: one transaction of counters, one
        read of their totals and one transaction of history days per 100 segments (a crash before
        this leaves counts short until the next run sets them outright)."""
        deltas, self._deltas = self._deltas, {}
        noted, self._changes = self._changes, {}
        erased, self._erased = self._erased, []
        for tenant, triples in noted.items():  # one batch of history entries per tenant
            membership_history_repo.record_many(tenant, triples, Cause("stream"))  # type: ignore[arg-type]
        for tenant, contact_id in erased:
            membership_history_repo.erase_contact(tenant, contact_id)
        flush_counts({key: (added, removed) for key, (added, removed) in deltas.items()}, _today(), KEPT.counts)

    def rules(self, tenant: str) -> TenantRules:
        """The tenant's rules for this batch: the container's kept copy (its stamp is checked by the
        claims before anything is decided), or read now on the container's first change of the tenant."""
        if tenant not in self._rules:
            kept = KEPT.get(tenant)
            if kept is None:
                kept = KEPT.load(tenant)
                self._fresh.add(tenant)
            self._stamps[tenant], self._rules[tenant] = kept
        return self._rules[tenant]

    def reload(self, tenant: str) -> str | None:
        """The stamp moved under the kept rules: read them again, and forget what was read with the
        old ones (the batch's prefetched memberships of the tenant, its activity window). The new stamp."""
        self._stamps[tenant], self._rules[tenant] = KEPT.load(tenant)
        self._fresh.add(tenant)
        self._quiet.pop(tenant, None)
        self._windows.pop(tenant, None)
        for key in [key for key in self._current if key[0] == tenant]:
            del self._current[key]
        return self._stamps[tenant]

    def quiet(self, tenant: str) -> bool:
        """Whether the tenant has no dynamic segment, by rules known current now: read in this
        invocation, or kept and their stamp read again (one consistent GetItem per tenant per batch,
        instead of the stamp's ConditionCheck in the claims' transactions); a moved stamp reloads them.
        A quiet tenant's changes claim no watermark and write nothing (``apply_change``).

        Why skipping the watermark is safe. The watermark protects one thing: a record R' of a contact
        older than a record R already applied (t' < t) must not decide the contact's memberships.
        Suppose R was skipped here (the tenant had no dynamic segment as of the stamp read, which is
        after R was written to ContactsTable: a stream record exists only once its write is done) and
        R' comes later, when a dynamic segment S exists (so S's rules were written after that read,
        else the stamp would have moved and the rules been reloaded).

        1. Lambda's event source mapping hands a shard's records in order and retries a batch from its
           first failed record (or whole, or bisected in order): records of one item are in one shard,
           in write order, so R' handed over after R is part of a retry that hands R again after it.
           R then finds S, claims its watermark (t > t') and decides the contact from R's image
           against the memberships R' left (read after the claim): the end state is R's, as when R'
           is stopped by a watermark; what remains is one join-and-leave pair in S's history.
        2. Whatever delivers R' (a replay outside the event source mapping): S's stamp bump, and that
           of every run of S (a run records its evaluations under a bump), came after the stamp read
           that let R be skipped, so after R was written; a run's snapshot then holds R or newer and
           its ``as_of`` is later than t, and the stream leaves S's membership of the contact to the
           run for R' (``kept_by_run``). Before S's first run, R' may write S's membership of the
           contact; that run re-decides it from a snapshot holding R or newer (cut >= t > t' = the
           watermark R' claimed: not one of the "newer" contacts a run leaves alone,
           ``evaluation.changes``), so the write lasts until then. (One window is left: a run of S
           that started before R was written, while S's create request had written S but not yet
           moved the stamp. There the old claim decided R without S too, and S kept the run's older
           decision for the contact until its next change or run, as it does now.)
        3. Nothing else reads what a skipped claim would have written: a run or an export uses the
           watermarks (``stamps.changed_after``) to leave alone or re-read contacts whose memberships
           the stream wrote, and for a skipped record it wrote none, so the run's plain diff and the
           export's state are right for that contact.

        Erasures are never skipped (``apply_change``): they remove static memberships as well."""
        if tenant not in self._quiet:
            rules = self.rules(tenant)
            if not rules.dynamic and tenant not in self._fresh:
                stamp, _ = rules_version.read(tenant)  # kept rules are never read under a pending stamp
                if stamp != self._stamps[tenant]:
                    self.reload(tenant)
            self._quiet[tenant] = not self.rules(tenant).dynamic
        return self._quiet[tenant]

    def window(self, tenant: str) -> ActivityWindow:
        if tenant not in self._windows:
            since = self.rules(tenant).events_since(self.as_of)
            self._windows[tenant] = ActivityWindow(tenant, since, self._s3_client)
        return self._windows[tenant]

    def prefetch_claims(self, changes: list[ContactChange]) -> None:
        """Claim the watermarks of the batch's contacts in bulk (``stamps.claim_many``): those that
        appear once in the batch (a contact changed twice is claimed record by record, in order)."""
        self.alone = len(changes) == 1
        if self.alone:
            return  # claimed inside its writes' first transaction (``apply_change``)
        seen: dict[tuple[str, str], int] = {}
        for change in changes:
            seen[(change.tenant, change.contact_id)] = seen.get((change.tenant, change.contact_id), 0) + 1
        once = [
            (c.tenant, c.contact_id, c.changed_at)
            for c in changes
            if seen[(c.tenant, c.contact_id)] == 1 and (c.erased or not self.quiet(c.tenant))
        ]
        if len(once) > 1:
            stamps_held = {tenant: self.stamp(tenant) for tenant, _, _ in once}
            self._claimed |= stamps.claim_many(once, stamps_held, self.reload)
        self._prefetch_current([c for c in changes if (c.tenant, c.contact_id, c.changed_at) in self._claimed])

    def _prefetch_current(self, claimed: list[ContactChange]) -> None:
        """The dynamic memberships of the contacts just claimed in bulk, read together (read after
        the claim, as ``apply_change`` would read them one contact at a time)."""
        by_tenant: dict[str, list[str]] = {}
        for change in claimed:
            if not change.erased:
                by_tenant.setdefault(change.tenant, []).append(change.contact_id)
        for tenant, ids in by_tenant.items():
            segment_ids = self.rules(tenant).dynamic
            if segment_ids:
                for contact_id, held in stamps.current_members_of_many(tenant, ids, segment_ids).items():
                    self._current[(tenant, contact_id)] = held

    def current_members(self, tenant: str, contact_id: str) -> set[str]:
        """The contact's dynamic memberships: prefetched for the batch (used once), else read now."""
        held = self._current.pop((tenant, contact_id), None)
        return held if held is not None else stamps.current_members(tenant, contact_id, self.rules(tenant).dynamic)

    def claim(self, change: ContactChange) -> bool:
        """The change's watermark claim: made in bulk already, or made now (``stamps.claim``)."""
        key = (change.tenant, change.contact_id, change.changed_at)
        if key in self._claimed:
            self._claimed.discard(key)
            return True
        for _ in range(2):
            try:
                return stamps.claim(change.tenant, change.contact_id, change.changed_at, self.stamp(change.tenant))
            except stamps.RulesMoved:
                self.reload(change.tenant)
        return stamps.claim(change.tenant, change.contact_id, change.changed_at, self.stamp(change.tenant))

    def stamp(self, tenant: str) -> str | None:
        """The stamp of the tenant's rules this batch decides with."""
        self.rules(tenant)
        return self._stamps[tenant]

    def prefetch_events(self, changes: list[ContactChange]) -> None:
        """One vectorised pick of the batch's contacts per tenant whose rules look at activity."""
        by_tenant: dict[str, list[str]] = {}
        for change in changes:
            if not change.erased:
                by_tenant.setdefault(change.tenant, []).append(change.contact_id)
        for tenant, ids in by_tenant.items():
            if self.rules(tenant).needs_events and not self.quiet(tenant):
                self.window(tenant).prefetch(ids)


def apply_change(change: ContactChange, cache: TenantCache) -> Outcome:
    """Write the change's membership differences. A change alone in its invocation writes everything
    itself, in transactions (``_apply_alone``); a change of a batch writes its memberships and leaves
    counts and history to ``cache.flush()``, shared by the batch."""
    if not change.erased and cache.quiet(change.tenant):
        return Outcome(change.contact_id, "quiet")  # nothing to decide (``TenantCache.quiet``)
    done: tuple[list[str], list[str]] = ([], [])
    if cache.alone and not change.erased:
        outcome, done = _apply_alone(change, cache)
        if outcome is not None:
            return outcome
    if not cache.claim(change):
        return Outcome(change.contact_id, "stale")
    tenant, contact_id = change.tenant, change.contact_id
    rules = cache.rules(tenant)
    if change.erased:
        return _erase(change, rules, cache)
    current = cache.current_members(tenant, contact_id)
    outcome = Outcome(contact_id, "applied")
    joins, leaves, outcome.kept_by_run = _moves(change, rules, current, cache)
    outcome.added, outcome.removed = write_memberships(tenant, contact_id, change.changed_at, joins, leaves)
    for segment_id in outcome.added:
        cache.count(tenant, segment_id, added=1)
        cache.note(tenant, segment_id, contact_id, "joined")
    for segment_id in outcome.removed:
        cache.count(tenant, segment_id, removed=1)
        cache.note(tenant, segment_id, contact_id, "left")
    outcome.added, outcome.removed = done[0] + outcome.added, done[1] + outcome.removed
    return outcome


LONE_ATTEMPTS = 3


def _apply_alone(change: ContactChange, cache: TenantCache) -> tuple[Outcome | None, tuple[list[str], list[str]]]:
    """A change alone in its invocation: its memberships read (one consistent BatchGet), then the
    claim, the rules check and every write (memberships, history entries, counters with today's
    history on the segment item) in TransactWriteItems of 100 actions (``batched.transact_change``):
    with 100 dynamic segments two requests up to 32 memberships moved, three up to 65, four up to 98,
    five for 99 and 100 (a segment's first change of a day writes its previous day out: one more
    action for it); the counters need no flush. The memberships are read before
    the claim, which is safe because the transaction holds only while nothing read has changed (else
    it writes nothing, and the change is read and tried again). None (and what was written) when the
    tries run out or a moved segment is gone: the change then goes the batch's way."""
    tenant, contact_id = change.tenant, change.contact_id
    added: list[str] = []
    removed: list[str] = []
    for _ in range(LONE_ATTEMPTS):
        rules = cache.rules(tenant)
        current = stamps.current_members(tenant, contact_id, rules.dynamic)
        joins, leaves, kept = _moves(change, rules, current, cache)
        moved = [(tenant, join.segment_id) for join in joins] + [(tenant, sid) for sid in leaves]
        if not know_counts(moved, KEPT.counts, KEPT.days):
            break
        try:
            joined, left = transact_change(
                tenant,
                contact_id,
                change.changed_at,
                joins,
                leaves,
                cache.stamp(tenant),
                KEPT.counts,
                _today(),
                KEPT.days,
            )
        except Refused as refused:
            added, removed = added + refused.added, removed + refused.removed
            if refused.reason == "stale":
                return Outcome(contact_id, "stale", added, removed), (added, removed)
            if refused.reason == "rules":
                cache.reload(tenant)
            continue
        return Outcome(contact_id, "applied", added + joined, removed + left, kept), (added, removed)
    return None, (added, removed)


def _moves(
    change: ContactChange, rules: TenantRules, current: set[str], cache: TenantCache
) -> tuple[list[Join], list[str], list[str]]:
    """The dynamic segments the contact joins and leaves (those where the rules' decision differs
    from ``current``), and those left alone because a scheduled run already saw the change."""
    tenant, contact_id = change.tenant, change.contact_id
    # Static memberships matter only to a tenant with static segments: no index query otherwise.
    stored = [m.segment_id for m in memberships_repo.segments_of(tenant, contact_id)] if rules.static else []
    events = cache.window(tenant).events_of(contact_id) if rules.needs_events else ()
    decision = decide(
        rules,
        change.fields or {},
        contact_id=contact_id,
        as_of=cache.as_of,
        events=events,
        static_memberships=[sid for sid in stored if sid in rules.static],
    )
    joins: list[Join] = []
    leaves: list[str] = []
    kept: list[str] = []
    for segment_id in sorted(decision.joined ^ current):
        segment = rules.dynamic[segment_id]
        if _evaluated_after(segment.last_evaluated_at, change.changed_at):
            kept.append(segment_id)  # the run saw this change (or a newer one) already
        elif segment_id in decision.joined:
            joins.append(Join(segment_id, segment.category))
        else:
            leaves.append(segment_id)
    return joins, leaves, kept


def _erase(change: ContactChange, rules: TenantRules, cache: TenantCache) -> Outcome:
    """Every membership goes, static ones too (erasure), whatever the index or a run says. The
    tenant's segments are read consistently and their memberships deleted in batches; the by_contact
    index may also name segments the rules no longer list (or lag), each deleted only if present."""
    tenant, contact_id = change.tenant, change.contact_id
    outcome = Outcome(contact_id, "applied")
    present = stamps.current_members(tenant, contact_id, [*rules.dynamic, *rules.static])
    indexed = {m.segment_id for m in memberships_repo.segments_of(tenant, contact_id)} - present
    _, outcome.removed = write_memberships(tenant, contact_id, None, [], sorted(present))
    outcome.removed += [sid for sid in sorted(indexed) if stamps.remove(tenant, sid, contact_id, None)]
    for segment_id in outcome.removed:
        cache.count(tenant, segment_id, removed=1)
    cache.note_erased(tenant, contact_id)  # erasure takes the history with it
    return outcome


def _evaluated_after(last_evaluated_at: str | None, changed_at: str) -> bool:
    """Whether a scheduled run with ``as_of`` = ``last_evaluated_at`` already saw the change."""
    if not last_evaluated_at:
        return False
    return as_utc(last_evaluated_at) > as_utc(changed_at)


def _today() -> str:
    """Today (UTC) for the history days: the one place the stream path reads the date (tests freeze it)."""
    return datetime.now(UTC).date().isoformat()

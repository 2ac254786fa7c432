"""Seeded, realistic contacts and activity events as Parquet, at any size, in bounded memory.

Everything is generated column-wise with `pyarrow.compute` (seeded `pc.random`), one chunk of
contacts at a time, so ten million contacts take well under a minute and a few hundred MB. The
shape follows what a marketing tenant holds: skewed countries and cities, missing values (null
*and* empty strings, null *and* empty tag lists), scores, send/click counters, timestamps spread
over three years before ``as_of``, and activity events (sends, opens, clicks, purchases with an
amount, page views) concentrated on a minority of contacts, a few dated after ``as_of``.

The layout is the snapshot's: `audience.columnar.contacts_schema(DEFAULT_CATALOG)` for contacts and
`EVENTS_SCHEMA` for events, written in row groups so readers stream them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from audience.columnar import EVENTS_SCHEMA, contacts_schema
from audience.fields import DEFAULT_CATALOG

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CHUNK = 250_000
# Contacts per row group, every group but the last: the service's snapshot row group and batch
# (`snapshots.BATCH_ROWS`, not imported: it pulls in the storage layer). A dictionary-encoded read
# cuts a batch where it crosses a row group boundary, so 131,072-row reads over 125,000-row groups
# gave two batches per group (125,000 + 6,072, 118,928 + 12,144, ...): twice the per-batch costs of
# the service's aligned reads. The chunks (the data's random streams) stay 250,000 contacts long.
ROW_GROUP = 131_072
EVENTS_ROW_GROUP = 500_000
_US_PER_DAY = 86_400_000_000
_TS = pa.timestamp("us", tz="UTC")
CONTACT_KEY = "contact_key"  # `audience.evaluation.snapshots.KEY`, not imported: it pulls in the storage layer

FIRST_NAMES = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kim", "Lena",
               "Marco", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Sven", "Tara", "Ugo", "Vera", "Will", "Yuki",
               "Zoë", "José", "Chloé", "Björn"]
LAST_NAMES = ["Smith", "Müller", "Garcia", "Rossi", "Dubois", "Silva", "Novak", "Jensen", "Kowalski", "Tanaka",
              "Nguyen", "Okafor", "Brown", "Schmidt", "López", "Martin", "Bianchi", "Andersen", "Costa", "Ali"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "gmx.de", "orange.fr", "acme.io",
           "example.com", "web.de"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Imports", "Soylent", "Tyrell Systems", "Wonka Foods", "Cyberdyne"]
# (country, [(state, city), ...]) with the country's share of contacts in parts per 100.
GEOGRAPHY = [
    ("US", 40, [("CA", "San Francisco"), ("CA", "Los Angeles"), ("NY", "New York"), ("TX", "Austin"),
                ("CO", "Denver"), ("WA", "Seattle")]),
    ("DE", 15, [("BE", "Berlin"), ("BY", "München"), ("HH", "Hamburg")]),
    ("FR", 12, [("IDF", "Paris"), ("ARA", "Lyon")]),
    ("GB", 10, [("ENG", "London"), ("SCT", "Edinburgh")]),
    ("ES", 8, [("AN", "Málaga"), ("MD", "Madrid")]),
    ("BR", 8, [("SP", "São Paulo"), ("RJ", "Rio de Janeiro")]),
    ("CH", 4, [("ZH", "Zürich")]),
    ("", 3, [("", "")]),  # unknown location, stored as empty strings
]
GENDERS = [("female", 45), ("male", 43), ("other", 2), ("", 10)]
STAGES = [("lead", 40), ("mql", 20), ("sql", 12), ("opportunity", 8), ("customer", 15), ("churned", 5)]
STATUSES = [("active", 70), ("inactive", 20), ("bounced", 6), ("blocked", 4)]
PRODUCTS = [("starter", 35), ("pro", 25), ("enterprise", 8), ("", 32)]
CARRIERS = [("Verizon", 20), ("AT&T", 18), ("T-Mobile", 15), ("Vodafone", 15), ("Orange", 10), ("Telefónica", 8),
            ("", 14)]
TAGS = ["vip", "newsletter", "webinar", "trial", "partner", "black-friday", "beta", "VIP", "event-2024", "referral",
        "high-intent", "do-not-call"]
EVENTS = [("email_sent", 34), ("email_open", 20), ("email_click", 8), ("sms_sent", 14), ("sms_click", 3),
          ("page_view", 16), ("purchase", 5)]
CAMPAIGNS = ["spring-sale", "summer-launch", "welcome-series", "reactivation", "newsletter-may", "black-friday"]
CHANNELS = ["email", "sms", "web", "push"]
AMOUNTS = ["9.99", "19.99", "29.99", "49.99", "99.99", "149.99", "n/a", ""]  # a few unparseable amounts
PAGES = ["/pricing", "/features", "/blog/segmentation", "/signup", "/docs/api", "/contact"]


@dataclass(frozen=True)
class Dataset:
    """Where a generated dataset lives and how big it is."""

    folder: Path
    contacts: Path
    events: Path
    rows: int
    events_rows: int
    as_of: datetime


class _Random:
    """Seeded uniform streams: each (chunk, column) draws from its own seed, so chunks are reproducible."""

    def __init__(self, seed: int, chunk: int):
        self.base = seed * 1_000_003 + chunk * 1_009
        self.count = 0

    def uniform(self, n: int) -> pa.Array:
        self.count += 1
        return pc.random(n, initializer=self.base + self.count)


def _arange(n: int, start: int = 0) -> pa.Array:
    ones = pc.fill_null(pa.nulls(n, pa.int64()), 1)
    return pc.add(pc.cumulative_sum(ones), start - 1)


def _index(u: pa.Array, size: int) -> pa.Array:
    return pc.cast(pc.floor(pc.multiply(u, size)), pa.int32())


def _pick(u: pa.Array, values: Sequence[str]) -> pa.Array:
    return pa.array(values, pa.string()).take(_index(u, len(values)))


def _weighted(u: pa.Array, weighted: Sequence[tuple[str, int]]) -> pa.Array:
    table = [value for value, weight in weighted for _ in range(weight)]
    return _pick(u, table)


def _null_where(values: pa.Array, u: pa.Array, share: float) -> pa.Array:
    return pc.if_else(pc.less(u, share), pa.scalar(None, values.type), values)


def _ids(index: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("c", pc.utf8_lpad(pc.cast(index, pa.string()), 9, "0"), "")


def _instants(as_of_us: int, days_back: pa.Array) -> pa.Array:
    micros = pc.subtract(as_of_us, pc.cast(pc.floor(pc.multiply(days_back, _US_PER_DAY)), pa.int64()))
    return pc.cast(micros, pa.int64()).cast(_TS)


def contacts_chunk(start: int, n: int, *, seed: int = 42, as_of: datetime = AS_OF) -> pa.Table:
    """Contacts `start .. start+n-1` (ids `c000000123`), the same for the same seed and range."""
    r = _Random(seed, start // CHUNK + 1)
    as_of_us = int(as_of.timestamp() * 1_000_000)
    index = _arange(n, start)
    first = _pick(r.uniform(n), FIRST_NAMES)
    last = _pick(r.uniform(n), LAST_NAMES)
    local = pc.utf8_lower(pc.binary_join_element_wise(first, last, pc.cast(index, pa.string()), "."))
    email = _null_where(pc.binary_join_element_wise(local, _pick(r.uniform(n), DOMAINS), "@"), r.uniform(n), 0.04)
    digits = pc.cast(pc.add(2e9, pc.floor(pc.multiply(r.uniform(n), 7.9e9))), pa.int64())
    phone = _null_where(pc.binary_join_element_wise("+1", pc.cast(digits, pa.string()), ""), r.uniform(n), 0.3)

    # a country by its share, then one of its places evenly (6 is a multiple of every place count)
    geo = [(country, *places[k % len(places)]) for country, share, places in GEOGRAPHY for k in range(share * 6)]
    where = _index(r.uniform(n), len(geo))
    country = pa.array([g[0] for g in geo]).take(where)
    state = pa.array([g[1] for g in geo]).take(where)
    city = pa.array([g[2] for g in geo]).take(where)

    u_age = r.uniform(n)
    age = _null_where(pc.floor(pc.add(18.0, pc.multiply(pc.multiply(u_age, u_age), 62.0))), r.uniform(n), 0.25)
    score = _null_where(pc.floor(pc.multiply(r.uniform(n), 101.0)), r.uniform(n), 0.05)
    u_sent = r.uniform(n)
    sent = pc.floor(pc.multiply(pc.multiply(u_sent, u_sent), 80.0))
    clicks = pc.floor(pc.multiply(sent, pc.multiply(r.uniform(n), pc.multiply(r.uniform(n), 0.4))))
    subscribed = _null_where(pc.greater(r.uniform(n), 0.12), r.uniform(n), 0.03)

    created_days = pc.multiply(r.uniform(n), 1095.0)
    created = _instants(as_of_us, created_days)
    updated = _instants(as_of_us, pc.multiply(created_days, r.uniform(n)))
    received = _null_where(_instants(as_of_us, pc.multiply(r.uniform(n), 200.0)), r.uniform(n), 0.2)
    clicked = _null_where(_instants(as_of_us, pc.multiply(r.uniform(n), 400.0)), r.uniform(n), 0.55)
    today = (as_of.date() - date(1970, 1, 1)).days
    purchase_day = pc.add(today - 60, _index(r.uniform(n), 240))
    expected = _null_where(pc.cast(purchase_day, pa.int32()).cast(pa.date32()), r.uniform(n), 0.7)

    lengths = _index(pc.multiply(r.uniform(n), r.uniform(n)), 5)  # 0..4 tags, mostly few
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cast(pc.cumulative_sum(lengths), pa.int32())])
    total = offsets[-1].as_py()
    tag_values = _pick(r.uniform(total), TAGS)
    tags = pa.ListArray.from_arrays(offsets, tag_values, mask=pc.less(r.uniform(n), 0.15))

    columns = {
        "contact_id": _ids(index),
        "email": email,
        "phone": phone,
        "first_name": _null_where(first, r.uniform(n), 0.02),
        "last_name": last,
        "company": _null_where(_pick(r.uniform(n), COMPANIES), r.uniform(n), 0.5),
        "country": country,
        "state": state,
        "city": city,
        "gender": _null_where(_weighted(r.uniform(n), GENDERS), r.uniform(n), 0.1),
        "age": age,
        "score": score,
        "sent_count": sent,
        "clicks_count": clicks,
        "subscribed": subscribed,
        "created_at": created,
        "updated_at": updated,
        "last_received_at": received,
        "last_clicked_at": clicked,
        "expected_purchase_date": expected,
        "stage": _weighted(r.uniform(n), STAGES),
        "status": _weighted(r.uniform(n), STATUSES),
        "product": _weighted(r.uniform(n), PRODUCTS),
        "carrier": _null_where(_weighted(r.uniform(n), CARRIERS), r.uniform(n), 0.1),
        "tags": tags,
    }
    return pa.Table.from_pydict(columns, schema=contacts_schema(DEFAULT_CATALOG))


def events_chunk(start: int, n: int, count: int, *, seed: int = 42, as_of: datetime = AS_OF) -> pa.Table:
    """`count` events of contacts `start .. start+n-1`: a minority of contacts hold most of them."""
    r = _Random(seed + 7, start // CHUNK + 1)
    as_of_us = int(as_of.timestamp() * 1_000_000)
    u = r.uniform(count)
    who = pc.add(start, _index(pc.multiply(u, pc.multiply(u, u)), n))  # skewed towards the chunk's first ids
    name = _weighted(r.uniform(count), EVENTS)
    # ~1% of events are dated after as_of (clock skew, scheduled sends): rules must ignore them.
    days_back = pc.subtract(pc.multiply(r.uniform(count), 181.0), 1.8)
    occurred = _instants(as_of_us, days_back)
    purchase = pc.equal(name, "purchase")
    page = pc.equal(name, "page_view")
    key0 = pc.if_else(purchase, "amount", pc.if_else(page, "url", "campaign"))
    key1 = pc.if_else(purchase, "product", "channel")
    value0 = pc.if_else(purchase, _pick(r.uniform(count), AMOUNTS),
                        pc.if_else(page, _pick(r.uniform(count), PAGES), _pick(r.uniform(count), CAMPAIGNS)))
    value1 = pc.if_else(purchase, _weighted(r.uniform(count), PRODUCTS[:3]), _pick(r.uniform(count), CHANNELS))
    slots = _arange(2 * count)
    order = pc.add(pc.multiply(pc.bit_wise_and(slots, 1), count), pc.shift_right(slots, 1))
    keys = pa.concat_arrays([key0, key1]).take(order)
    items = pa.concat_arrays([value0, value1]).take(order)
    offsets = pc.cast(pc.multiply(_arange(count + 1), 2), pa.int32())
    properties = pa.MapArray.from_arrays(offsets, keys, items)
    table = pa.table({"contact_id": _ids(who), "event": name, "occurred_at": occurred, "properties": properties})
    return table.cast(EVENTS_SCHEMA)


def generate(
    rows: int,
    folder: Path | str | None = None,
    *,
    seed: int = 42,
    events_per_contact: float = 0.6,
    as_of: datetime = AS_OF,
    chunk: int = CHUNK,
    keyed: bool = False,
) -> Dataset:
    """Write `contacts.parquet` and `events.parquet` with `rows` contacts into `folder` (a new temp dir
    when None). Memory stays at a few chunks whatever `rows` is.

    ``keyed``: the files as the service's snapshot and event log hold them — every contact carries
    its integer contact key (``snapshots.KEY``, dense, in the file's order, as a full build numbers
    contacts) and the events are sorted by contact, then time (as each event-log object is kept, so
    the run streams them), marked ``sorted_by_contact``. The contacts and events themselves are the
    same as without: readers that ignore the key column select exactly the same members."""
    target = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="audience-bench-"))
    target.mkdir(parents=True, exist_ok=True)
    contacts_path, events_path = target / "contacts.parquet", target / "events.parquet"
    contact_schema, events_schema = contacts_schema(DEFAULT_CATALOG), EVENTS_SCHEMA
    if keyed:
        contact_schema = contact_schema.append(pa.field(CONTACT_KEY, pa.uint32()))
        events_schema = events_schema.with_metadata({**(events_schema.metadata or {}), b"sorted_by_contact": b"1"})
    events_rows = 0
    pending: list[pa.Table] = []  # contacts not yet written: row groups are ROW_GROUP rows across chunks
    with pq.ParquetWriter(contacts_path, contact_schema) as contacts, \
            pq.ParquetWriter(events_path, events_schema) as events:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            table = contacts_chunk(start, n, seed=seed, as_of=as_of)
            if keyed:
                table = table.append_column(contact_schema.field(CONTACT_KEY),
                                            pc.cast(_arange(n, start), pa.uint32()))
            pending.append(table)
            held = pa.concat_tables(pending)
            whole = held.num_rows // ROW_GROUP * ROW_GROUP
            if whole:
                contacts.write_table(held.slice(0, whole), row_group_size=ROW_GROUP)
            pending = [held.slice(whole)] if whole < held.num_rows else []
            count = int(n * events_per_contact)
            if count:
                table = events_chunk(start, n, count, seed=seed, as_of=as_of)
                if keyed:  # a chunk's contacts follow the previous chunk's: sorting each chunk sorts the file
                    table = table.sort_by([("contact_id", "ascending"), ("occurred_at", "ascending")])
                events.write_table(table.replace_schema_metadata(events_schema.metadata),
                                   row_group_size=EVENTS_ROW_GROUP)
                events_rows += count
        if pending:
            contacts.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
    return Dataset(target, contacts_path, events_path, rows, events_rows, as_of)


if __name__ == "__main__":
    import sys
    import time

    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    began = time.perf_counter()
    data = generate(size, sys.argv[2] if len(sys.argv) > 2 else None)
    print(f"{data.rows:,} contacts, {data.events_rows:,} events in {time.perf_counter() - began:.1f}s -> {data.folder}")

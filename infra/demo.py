"""`make run ARGS=--demo`: a realistic demo tenant, loaded through the service's own front doors.

All contacts arrive as one CSV through `POST /imports` and its presigned URL, so the real importer
reads, validates and writes them (split into chunks over ImportChunksQueue), with a `created_at`
column spreading their arrival over two years; activity events as a JSON Lines file under
`tenants/{tenant}/events/` (the public event-file path); segments through `POST /segments`; then the
scheduled evaluation runs once and a summary table is returned.

The generator is seeded (same data every run) and shaped like a B2B/B2C marketing base: a long
tail of cold leads, few customers, scores skewed low, engagement correlated with score, sends and
clicks over the last 90 days, opportunities with expected purchase dates around the next weeks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from bisect import bisect
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

DEMO_CONTACTS = 20_000
SEED = 20_261_122
IMPORT_POLL_SECONDS = 0.25

COUNTRIES = {"US": 35, "GB": 12, "DE": 10, "FR": 9, "CA": 6, "BR": 6, "IN": 6, "ES": 6, "AU": 5, "IT": 5}
CARRIERS = {
    "US": ["Verizon", "AT&T", "T-Mobile"],
    "GB": ["EE", "Vodafone", "O2"],
    "DE": ["Telekom", "Vodafone", "O2"],
    "FR": ["Orange", "SFR", "Bouygues"],
    "CA": ["Rogers", "Bell", "Telus"],
    "BR": ["Vivo", "Claro", "TIM"],
    "IN": ["Jio", "Airtel", "Vi"],
    "ES": ["Movistar", "Vodafone", "Orange"],
    "AU": ["Telstra", "Optus"],
    "IT": ["TIM", "Vodafone", "WindTre"],
}
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Isabel",
    "James",
    "Kenji",
    "Laura",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Liam",
    "Mia",
    "Noah",
    "Emma",
    "Lucas",
    "Sofia",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Müller",
    "Martin",
    "Rossi",
    "Silva",
    "Patel",
    "Kim",
    "Nguyen",
    "Brown",
    "Dubois",
    "Schmidt",
    "López",
    "Wilson",
    "Khan",
    "Costa",
    "Taylor",
    "Moreau",
    "Fischer",
    "Singh",
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
]
STAGES = {"lead": 55, "mql": 20, "opportunity": 12, "customer": 13}
PRODUCTS = {"Starter": 45, "Pro": 30, "Enterprise": 10, "Analytics add-on": 15}
TAGS = ["newsletter", "webinar", "trade-show", "partner-referral", "ebook", "free-trial"]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    """``rng.choices(list(weights), weights=list(weights.values()))[0]``: the same draw from the same
    generator state (``choices`` accumulates the weights, then bisects one ``random()``), with the
    accumulated weights kept per table instead of summed again for each of the ~100,000 draws."""
    keys, cumulative = _cumulative(tuple(weights.items()))
    return keys[bisect(cumulative, rng.random() * (cumulative[-1] + 0.0), 0, len(keys) - 1)]


@cache
def _cumulative(weights: tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    return tuple(key for key, _ in weights), tuple(accumulate(weight for _, weight in weights))


@cache
def _mobile_example(country: str) -> tuple[int, str] | None:
    """(country code, national number) of phonenumbers' example mobile number for the country,
    looked up once per country (it builds a number from the region's metadata on every call)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    return None if example is None else (example.country_code, str(example.national_number))


def _phone(rng: random.Random, country: str) -> str | None:
    """A valid mobile number for the country (phonenumbers' example number with random digits).

    The candidate is validated as the number it is (country code, national number) rather than
    parsed from its E.164 text first: the digits start with the example's first three, never with a
    zero or a national prefix, so parsing gave the same number, at twice the cost."""
    from phonenumbers import PhoneNumber, is_valid_number

    example = _mobile_example(country)
    if example is None:
        return None
    country_code, national = example
    for _ in range(20):
        digits = national[:3] + "".join(rng.choice("0123456789") for _ in national[3:])
        if is_valid_number(PhoneNumber(country_code=country_code, national_number=int(digits))):
            return f"+{country_code}{int(digits)}"
    return None


def generate(n: int = DEMO_CONTACTS, seed: int = SEED, now: datetime | None = None):
    """(contact rows, activity events) with believable distributions; deterministic for a seed."""
    rng = random.Random(seed)
    arrivals = random.Random(seed + 1)  # its own stream: the other columns stay as they were
    now = now or datetime.now(UTC)
    contacts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    phones_used: set[str | None] = set()
    for i in range(1, n + 1):
        country = _weighted(rng, COUNTRIES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        score = int(100 * rng.betavariate(2, 5))
        stage = _weighted(rng, STAGES)
        if stage == "customer":
            score = min(100, score + 25)
        sent = int(rng.expovariate(1 / 12)) if rng.random() < 0.85 else 0
        click_rate = 0.01 + score / 600
        clicks = sum(rng.random() < click_rate for _ in range(sent))
        last_received = now - timedelta(days=rng.expovariate(1 / 20)) if sent else None
        last_clicked = (last_received or now) - timedelta(days=rng.uniform(0, 30)) if clicks else None
        phone = _phone(rng, country) if rng.random() < 0.7 else None
        if phone in phones_used:  # phones are unique per tenant: the importer would reject the row
            phone = None
        phones_used.add(phone)
        row = {
            "contact_id": f"c{i:06d}",
            "email": f"{first}.{last}.{i}@example.{rng.choice(['com', 'org', 'net'])}".lower()
            .replace("ü", "u")
            .replace("ó", "o"),
            "phone": phone or "",
            "first_name": first,
            "last_name": last,
            "company": rng.choice(COMPANIES) if rng.random() < 0.6 else "",
            "country": country,
            "age": str(max(18, min(80, int(rng.gauss(38, 12))))) if rng.random() < 0.9 else "",
            "score": str(score),
            "sent_count": str(sent),
            "clicks_count": str(clicks),
            "subscribed": "true" if rng.random() < 0.92 else "false",
            "last_received_at": _iso(last_received),
            "last_clicked_at": _iso(last_clicked),
            "stage": stage,
            "product": _weighted(rng, PRODUCTS),
            "carrier": rng.choice(CARRIERS[country]) if phone else "",
            "expected_purchase_date": (now.date() + timedelta(days=rng.randint(-10, 60))).isoformat()
            if stage == "opportunity"
            else "",
            "tags": ";".join(rng.sample(TAGS, rng.choice([0, 1, 1, 2, 3]))),
            # when the lead arrived: "leads over time" and date rules rest on it
            "created_at": _iso(now - timedelta(days=min(730.0, arrivals.expovariate(1 / 180)), hours=1)),
        }
        contacts.append(row)
        for _ in range(min(clicks, 10)):
            at = now - timedelta(days=rng.uniform(0, 90))
            events.append(
                {
                    "contact_id": row["contact_id"],
                    "event": "sms_click",
                    "occurred_at": _iso(at),
                    "properties": {"campaign": rng.choice(["spring-sale", "webinar-invite", "renewal"])},
                }
            )
        for _ in range(int(rng.expovariate(1 / 2)) if score > 30 else 0):
            at = now - timedelta(days=rng.uniform(0, 90))
            events.append(
                {
                    "contact_id": row["contact_id"],
                    "event": "page_view",
                    "occurred_at": _iso(at),
                    "properties": {"page": rng.choice(["/pricing", "/features", "/blog", "/demo"])},
                }
            )
        if stage == "customer" or (stage == "opportunity" and rng.random() < 0.2):
            for _ in range(rng.randint(1, 4)):
                at = now - timedelta(days=rng.uniform(0, 365))
                amount = round(rng.lognormvariate(4.5, 0.8), 2)
                events.append(
                    {
                        "contact_id": row["contact_id"],
                        "event": "purchase",
                        "occurred_at": _iso(at),
                        "properties": {"amount": amount, "product": row["product"]},
                    }
                )
    return contacts, events


def _iso(value: datetime | None) -> str:
    """``value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")``; a UTC moment (all the generator
    makes) is cut from its ISO text, which costs a third of ``strftime``."""
    if not value:
        return ""
    if value.tzinfo is UTC and value.year >= 1000:
        return value.isoformat(timespec="seconds")[:19] + "Z"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def demo_segments(today: date) -> list[dict[str, Any]]:
    """Segments from everyday marketing practice."""
    lifecycle = [("Customers", "customer"), ("Opportunities", "opportunity"), ("Marketing qualified", "mql")]
    segments: list[dict[str, Any]] = [
        {
            "name": "Clickers not contacted for 30 days",
            "type": "dynamic",
            "public": True,
            "rules": {
                "all": [
                    {"field": "clicks_count", "op": "gte", "value": 1},
                    {"field": "last_received_at", "op": "more_than_days_ago", "value": 30},
                ]
            },
        },
        {
            "name": "Unused numbers",
            "type": "dynamic",
            "description": "Phone numbers that never received a message",
            "rules": {
                "all": [
                    {"field": "phone", "op": "is_not_empty"},
                    {
                        "any": [
                            {"field": "sent_count", "op": "eq", "value": 0},
                            {"field": "last_received_at", "op": "is_empty"},
                        ]
                    },
                ]
            },
        },
        {
            "name": "Expected to purchase within 14 days",
            "type": "dynamic",
            "public": True,
            "rules": {"field": "expected_purchase_date", "op": "within_next_days", "value": 14},
        },
        {
            "name": "VIP (score 80+)",
            "type": "dynamic",
            "public": True,
            "rules": {
                "all": [
                    {"field": "score", "op": "gte", "value": 80},
                    {"field": "subscribed", "op": "is_true"},
                ]
            },
        },
        {
            "name": "Bought in the last 30 days",
            "type": "dynamic",
            "rules": {"event": "purchase", "within_last_days": 30},
        },
        {
            "name": "Engaged SMS clickers (3+ clicks in 90 days)",
            "type": "dynamic",
            "public": True,
            "rules": {
                "event": "sms_click",
                "within_last_days": 90,
                "aggregate": {"fn": "count", "op": "gte", "value": 3},
            },
        },
    ]
    for priority, (name, stage) in enumerate(lifecycle, start=1):
        segments.append(
            {
                "name": f"Lifecycle: {name}",
                "type": "dynamic",
                "category": "lifecycle",
                "priority": priority,
                "rules": {"field": "stage", "op": "eq", "value": stage},
            }
        )
    segments.append(
        {
            "name": "Lifecycle: Leads",
            "type": "dynamic",
            "category": "lifecycle",
            "priority": 9,
            "rules": {"field": "email", "op": "is_not_empty"},
        }
    )
    for product in PRODUCTS:
        segments.append(
            {
                "name": f"Product: {product}",
                "type": "dynamic",
                "rules": {"field": "product", "op": "eq", "value": product},
            }
        )
    for country in ("US", "GB", "DE", "FR"):
        segments.append(
            {
                "name": f"Country: {country}",
                "type": "dynamic",
                "rules": {"field": "country", "op": "eq", "value": country},
            }
        )
    return segments


class _Api:
    """Calls the local API Gateway in-process (the front door is not serving yet)."""

    def __init__(self, stack: Any, api_key: str) -> None:
        self.gateway, self.api_key = stack.gateway, api_key

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = [("X-Api-Key", self.api_key), ("Content-Type", "application/json"), ("Host", "127.0.0.1")]
        payload = json.dumps(body).encode() if body is not None else b""
        status, _, raw = self.gateway.handle(method, path, headers, payload, "127.0.0.1", "127.0.0.1")
        try:
            return status, json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return status, raw.decode(errors="replace")


def contacts_csv(contacts: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(contacts[0]))
    writer.writeheader()
    writer.writerows(contacts)
    return buffer.getvalue().encode("utf-8")


def import_file(api: _Api, file_name: str, data: bytes, timeout: float = 600) -> dict[str, Any]:
    """Through the real import path: a job, the presigned upload, then the job polled to its end."""
    return wait_for_import(api, start_import(api, file_name, data), timeout)


def start_import(api: _Api, file_name: str, data: bytes) -> str:
    """A job and its presigned upload (the importer starts on the upload); the job's id."""
    status, job = api("POST", "/imports", {"file_name": file_name})
    if status >= 300:
        raise RuntimeError(f"POST /imports answered {status}: {job}")
    requests.put(job["upload_url"], data=data, timeout=60).raise_for_status()
    return job["job_id"]


def wait_for_import(api: _Api, job_id: str, timeout: float = 600) -> dict[str, Any]:
    """The import job polled until it succeeded or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, state = api("GET", f"/imports/{job_id}")
        if isinstance(state, dict) and state.get("status") in ("succeeded", "failed"):
            return state
        time.sleep(IMPORT_POLL_SECONDS)
    raise RuntimeError(f"the import {job_id} did not finish in time")


EVENTS_FILE = "demo-activity.jsonl"


def _upload_events(stack: Any, tenant_id: str, events: list[dict[str, Any]]) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=stack.aws_endpoint, region_name=stack.resources.region)
    body = "\n".join(json.dumps(event) for event in events).encode()
    bucket = stack.resources.name("ImportBucket")
    s3.put_object(Bucket=bucket, Key=f"tenants/{tenant_id}/events/{EVENTS_FILE}", Body=body)


def wait_for_events(api: _Api, timeout: float = 300) -> dict[str, Any]:
    """The events file's batch (named by its key below the tenant) polled until the importer ended it."""
    path = "/events/batches/" + quote(f"events/{EVENTS_FILE}", safe="")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, batch = api("GET", path)
        if status == 200 and isinstance(batch, dict) and batch.get("status") in ("ingested", "failed"):
            return batch
        time.sleep(IMPORT_POLL_SECONDS)
    raise RuntimeError(f"the events file {EVENTS_FILE} was not ingested in time")


def streams_caught_up(stack: Any, timeout: float = 300) -> bool:
    """Wait until every local DynamoDB stream poller has delivered what was written so far."""
    pollers = [t for t in stack.threads if hasattr(t, "wait_until_caught_up")]
    return all(poller.wait_until_caught_up(timeout) for poller in pollers)


def unevaluated(api: _Api, segment_ids: list[str]) -> list[str]:
    """Segments (of ``segment_ids``) without a successful evaluation, read back through the API."""
    status, page = api("GET", "/segments?limit=100")
    if status != 200 or not isinstance(page, dict):
        return list(segment_ids)
    done = {
        s["id"] for s in page.get("items", []) if s.get("last_evaluated_at") and s.get("evaluation_status") != "failed"
    }
    return [sid for sid in segment_ids if sid not in done]


SAMPLE_FILE = Path(__file__).parent / "sample" / "leads.csv"


def load_sample(stack: Any) -> str:
    """Plain `make run`: the first tenant gets the repository's small lead list, through the real
    importer, so the README tour's segment has members; returns a printable line."""
    tenant = stack.tenants[0]
    state = import_file(_Api(stack, tenant.api_key), SAMPLE_FILE.name, SAMPLE_FILE.read_bytes())
    if state.get("status") != "succeeded":
        return f"Sample import into {tenant.tenant_id!r} failed: {state.get('error')}"
    return (
        f"Tenant {tenant.tenant_id!r}: {state['rows_imported']} leads imported from infra/sample/{SAMPLE_FILE.name} "
        f"({state['values_dropped']} with a value dropped, {state['rows_rejected']} rejected; "
        f"GET /imports/{state['job_id']} for the report)"
    )


def load_demo(stack: Any, contacts: int | None = None) -> str:
    """Fill the first local tenant with demo data, evaluate, and return a printable summary
    (``DEMO_CONTACTS`` in the environment sizes it, for tests).

    Ready means: every demo segment has its members from the first run (read back through the API).
    The summary ends with the seconds of each step (``ready in ...``), which `make bench ARGS="--only
    demo"` reads."""
    contacts = contacts or int(os.environ.get("DEMO_CONTACTS") or DEMO_CONTACTS)
    tenant = stack.tenants[0]
    api = _Api(stack, tenant.api_key)
    started = time.monotonic()
    steps: dict[str, float] = {}
    cpu: dict[str, tuple[float, float]] = {}
    cpu_mark = step_cpu(stack)

    def step(name: str, since: float) -> float:
        nonlocal cpu_mark
        now, cpu_now = time.monotonic(), step_cpu(stack)
        steps[name] = now - since
        cpu[name] = (cpu_now[0] - cpu_mark[0], cpu_now[1] - cpu_mark[1])
        cpu_mark = cpu_now
        return now

    rows, events = generate(contacts)
    mark = step("generate", started)
    # The contacts' file first: the local import queue runs one invocation at a time, so its split
    # (which queues the chunks the chunk workers write) goes before the events' ingestion, which then
    # runs while the chunks are written (ingesting events reads no contact).
    job_id = start_import(api, "demo-contacts.csv", contacts_csv(rows))
    _upload_events(stack, tenant.tenant_id, events)
    imported = wait_for_import(api, job_id)
    if imported.get("status") != "succeeded":
        raise RuntimeError(f"the demo import failed: {imported.get('error')}")
    batch = wait_for_events(api)  # the snapshot's run must see the activity
    if batch.get("status") != "ingested":
        raise RuntimeError(f"the demo events were not ingested: {batch}")
    mark = step("import", mark)
    # The contact stream hands each imported contact to the real-time path: let it see them all
    # before the segments exist, or it would decide and write their memberships one contact at a
    # time, racing the first run that writes them in bulk.
    streams_caught_up(stack)
    mark = step("stream", mark)
    api("POST", "/categories", {"name": "lifecycle", "description": "Where a contact is in the funnel"})
    created: dict[str, str] = {}
    problems: list[str] = []
    for segment in demo_segments(datetime.now(UTC).date()):
        status, answer = api("POST", "/segments", segment)
        if status == 201:
            created[answer["id"]] = segment["name"]
        else:
            problems.append(f"{segment['name']}: HTTP {status} {answer}")
    mark = step("segments", mark)
    run = stack.run_schedule_now()
    counts: dict[str, Any] = {}
    for entry in (run or {}).get("runs", []) if isinstance(run, dict) else []:
        if entry.get("tenant_id") == tenant.tenant_id:
            counts.update(entry.get("segments") or {})
    missing = unevaluated(api, list(created))
    problems += [f"{created[sid]}: not evaluated by the first run" for sid in missing]
    step("first run", mark)
    total = time.monotonic() - started
    lines = [
        "",
        f"Demo tenant {tenant.tenant_id!r}: {imported.get('rows_imported')} contacts imported "
        f"({imported.get('rows_rejected')} rejected), {batch.get('ingested', len(events))} activity events, "
        f"{len(created)} segments, in {total:.0f} s",
        "",
        f"  {'segment':<46} {'members':>8}",
        f"  {'-' * 46} {'-' * 8}",
    ]
    for segment_id, name in created.items():
        lines.append(f"  {name:<46} {counts.get(segment_id, '?')!s:>8}")
    lines.extend(f"  ! {problem}" for problem in problems)
    breakdown = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
    lines += ["", f"Demo ready in {total:.1f} s ({breakdown})"]
    lines.append("Demo CPU stack + moto: " + ", ".join(f"{name} {s:.1f} + {m:.1f} s" for name, (s, m) in cpu.items()))
    return "\n".join(lines)


def step_cpu(stack: Any) -> tuple[float, float]:
    """CPU seconds so far of this process (every thread) and of the stack's moto child: the demo's
    steps are timed in both, since on two cores the wall time says little about which of the two
    processes a step waits for (0 for moto when its process is not known, as in tests)."""
    process = getattr(getattr(stack, "_moto", None), "_process", None)
    moto = 0.0
    if process is not None:
        try:
            with open(f"/proc/{process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            moto = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            moto = 0.0
    return time.process_time(), moto

"""A realistic rule set for the benchmark: the segments a marketing team actually keeps.

`segments(20)` and `segments(50)` return `(segment_id, parsed rule)` pairs covering every kind of
condition SPEC §2 offers: simple equality, nested all/any/not groups, string contains and prefixes,
regular expressions, list membership, relative and absolute dates on datetime and date fields,
activity aggregates (count, sum, avg, last_at, with `where` filters and windows) and references to
other segments (in dependency chains). The 50-segment set is the 20 plus thirty more of the same
kinds with other values, as a tenant's list grows.
"""

from __future__ import annotations

from typing import Any

from audience.fields import DEFAULT_CATALOG
from audience.rules import Rule, parse_rule

CORE: list[tuple[str, dict[str, Any]]] = [
    ("us_contacts", {"field": "country", "op": "eq", "value": "us"}),
    ("subscribed_customers", {"all": [
        {"field": "stage", "op": "eq", "value": "customer"},
        {"field": "subscribed", "op": "is_true"},
    ]}),
    ("gmail_users", {"field": "email", "op": "ends_with", "value": "@gmail.com"}),
    ("vip_tagged", {"field": "tags", "op": "has_any", "value": ["vip", "high-intent"]}),
    ("high_score_leads", {"all": [
        {"field": "score", "op": "gte", "value": 80},
        {"field": "stage", "op": "in", "value": ["lead", "mql", "sql"]},
    ]}),
    ("new_this_month", {"field": "created_at", "op": "within_last_days", "value": 30}),
    ("dormant", {"all": [
        {"any": [
            {"field": "last_clicked_at", "op": "more_than_days_ago", "value": 180},
            {"field": "last_clicked_at", "op": "is_empty"},
        ]},
        {"field": "sent_count", "op": "gte", "value": 10},
    ]}),
    ("sms_global_suppression", {"all": [
        {"event": "sms_sent", "aggregate": {"fn": "count", "op": "gte", "value": 3}},
        {"not": {"event": "sms_click"}},
    ]}),
    ("recent_clickers", {"event": "email_click", "within_last_days": 30}),
    ("big_spenders", {"event": "purchase", "within_last_days": 90,
                      "aggregate": {"fn": "sum", "field": "amount", "op": "gte", "value": 100}}),
    ("pricing_page_visitors", {"event": "page_view", "within_last_days": 14,
                               "where": [{"field": "url", "op": "starts_with", "value": "/pricing"}]}),
    ("europe_engaged", {"all": [
        {"field": "country", "op": "in", "value": ["DE", "FR", "GB", "ES", "CH"]},
        {"any": [
            {"field": "clicks_count", "op": "gt", "value": 2},
            {"field": "last_clicked_at", "op": "within_last_days", "value": 60},
        ]},
    ]}),
    ("company_contacts", {"all": [
        {"field": "company", "op": "is_not_empty"},
        {"field": "company", "op": "not_contains", "value": "health"},
    ]}),
    ("purchase_next_30_days", {"field": "expected_purchase_date", "op": "within_next_days", "value": 30}),
    ("adult_women", {"all": [
        {"field": "gender", "op": "eq", "value": "Female"},
        {"field": "age", "op": "between", "value": [25, 54]},
    ]}),
    ("no_phone_or_unknown_carrier", {"any": [
        {"field": "phone", "op": "is_empty"},
        {"field": "carrier", "op": "not_in", "value": ["Verizon", "AT&T", "T-Mobile"]},
    ]}),
    ("us_customers_not_vip", {"all": [
        {"segment": "us_contacts"},
        {"segment": "subscribed_customers"},
        {"not": {"segment": "vip_tagged"}},
    ]}),
    ("winback", {"all": [
        {"segment": "dormant"},
        {"not": {"segment": "recent_clickers"}},
        {"field": "status", "op": "neq", "value": "blocked"},
    ]}),
    ("newsletter_without_trial", {"all": [
        {"field": "tags", "op": "has_all", "value": ["newsletter", "vip"]},
        {"field": "tags", "op": "has_none", "value": ["trial", "do-not-call"]},
    ]}),
    ("deep_nested", {"any": [
        {"all": [
            {"field": "product", "op": "eq", "value": "pro"},
            {"not": {"any": [
                {"field": "status", "op": "in", "value": ["bounced", "blocked"]},
                {"field": "email", "op": "matches", "value": "(?i)@(yahoo|hotmail)\\."},
            ]}},
        ]},
        {"all": [
            {"field": "product", "op": "eq", "value": "enterprise"},
            {"field": "updated_at", "op": "after", "value": "2025-01-01T00:00:00Z"},
        ]},
    ]}),
]

COUNTRIES = ["US", "DE", "FR", "GB", "ES", "BR", "CH"]
CITIES = ["berlin", "paris", "austin", "london", "madrid", "são paulo"]


def _extra() -> list[tuple[str, dict[str, Any]]]:
    """Thirty more segments of the same kinds, as a tenant's segment list grows."""
    extra: list[tuple[str, dict[str, Any]]] = []
    for country in COUNTRIES:
        extra.append((f"engaged_{country.lower()}", {"all": [
            {"field": "country", "op": "eq", "value": country},
            {"field": "clicks_count", "op": "gte", "value": 1},
            {"field": "subscribed", "op": "is_true"},
        ]}))
    for city in CITIES:
        extra.append((f"city_{city.replace(' ', '_').replace('ã', 'a')}", {"field": "city", "op": "contains",
                                                                              "value": city[:5]}))
    for low, high in ((0, 25), (26, 50), (51, 75), (76, 100)):
        extra.append((f"score_{low}_{high}", {"field": "score", "op": "between", "value": [low, high]}))
    for event, days in (("email_open", 7), ("sms_click", 60), ("page_view", 90)):
        extra.append((f"{event}_{days}d", {"event": event, "within_last_days": days}))
    extra += [
        ("frequent_buyers", {"event": "purchase", "aggregate": {"fn": "count", "op": "gte", "value": 2}}),
        ("avg_basket_over_40", {"event": "purchase",
                                "aggregate": {"fn": "avg", "field": "amount", "op": "gt", "value": 40}}),
        ("last_purchase_recent", {"event": "purchase",
                                  "aggregate": {"fn": "last_at", "op": "within_last_days", "value": 45}}),
        ("spring_campaign_openers", {"event": "email_open", "where": [
            {"field": "campaign", "op": "in", "value": ["spring-sale", "summer-launch"]},
            {"field": "channel", "op": "neq", "value": "push"},
        ]}),
        ("signed_up_2024", {"field": "created_at", "op": "between",
                            "value": ["2024-01-01", "2024-12-31"]}),
        ("received_on_day", {"field": "last_received_at", "op": "on", "value": "2025-05-20"}),
        ("names_with_accents", {"field": "first_name", "op": "matches", "value": "[éëöü]"}),
        ("jo_prefix", {"field": "first_name", "op": "starts_with", "value": "jo"}),
    ]
    extra += [
        ("engaged_europe_customers", {"all": [
            {"any": [{"segment": f"engaged_{c.lower()}"} for c in ("DE", "FR", "GB", "ES", "CH")]},
            {"segment": "subscribed_customers"},
        ]}),
        ("suppressed_or_unsubscribed", {"any": [
            {"segment": "sms_global_suppression"},
            {"field": "subscribed", "op": "is_false"},
            {"field": "status", "op": "eq", "value": "bounced"},
        ]}),
    ]
    return extra


def raw_segments(count: int) -> list[tuple[str, dict[str, Any]]]:
    """The first `count` segments (20 or 50) as JSON rules."""
    pool = CORE + _extra()
    if not 1 <= count <= len(pool):
        raise ValueError(f"the rule set has 1..{len(pool)} segments, not {count}")
    chosen = pool[:count]
    ids = {sid for sid, _ in chosen}
    for sid, rule in chosen:
        missing = _references(rule) - ids
        if missing:
            raise ValueError(f"{sid} references {sorted(missing)} outside the first {count} segments")
    return chosen


def segments(count: int) -> list[tuple[str, Rule]]:
    """The first `count` segments, parsed against the built-in field catalog."""
    return [(sid, parse_rule(rule, DEFAULT_CATALOG)) for sid, rule in raw_segments(count)]


def needed_fields(count: int) -> list[str]:
    """Contact columns the rules read (plus contact_id): what the floor reads too."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "field" in node and "event" not in node and isinstance(node["field"], str) and "op" in node:
                names.add(node["field"])
            for key, value in node.items():
                if key not in ("where", "aggregate"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for _, rule in raw_segments(count):
        walk(rule)
    return ["contact_id", *sorted(names - {"contact_id"})]


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["segment"]} if "segment" in node else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    return set()

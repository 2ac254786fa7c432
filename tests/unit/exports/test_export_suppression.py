from datetime import UTC, datetime

from audience.fields import DEFAULT_CATALOG
from audience.suppression import (
    NO_SUPPRESSION,
    SuppressionPolicy,
    export_exclusion,
    received_but_never_clicked,
)

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def exclusion(contact, policy, ignore=False):
    return export_exclusion(contact, policy, ignore_suppression=ignore, as_of=AS_OF, catalog=DEFAULT_CATALOG)


def test_received_at_least_n_and_never_clicked():
    assert received_but_never_clicked({"sent_count": 5}, 5)
    assert received_but_never_clicked({"sent_count": 9, "clicks_count": 0}, 5)
    assert not received_but_never_clicked({"sent_count": 4}, 5)
    assert not received_but_never_clicked({"sent_count": 9, "clicks_count": 1}, 5)
    assert not received_but_never_clicked({"sent_count": 9, "last_clicked_at": "2025-01-01T00:00:00Z"}, 5)
    assert not received_but_never_clicked({}, 1), "no sends recorded is not 'received'"


def test_global_suppression_only_when_enabled():
    disabled = SuppressionPolicy.from_document(
        {"rules": None, "received_at_least_never_clicked": {"enabled": False, "min_received": 1}},
        DEFAULT_CATALOG,
    )
    enabled = SuppressionPolicy.from_document(
        {"rules": None, "received_at_least_never_clicked": {"enabled": True, "min_received": 3}},
        DEFAULT_CATALOG,
    )
    quiet = {"sent_count": 3, "clicks_count": 0, "subscribed": True}
    assert not disabled.active and exclusion(quiet, disabled) is None
    assert enabled.active and exclusion(quiet, enabled) == "suppressed"
    assert exclusion(quiet, enabled, ignore=True) is None


def test_unsubscribed_is_always_excluded_even_when_the_segment_opts_out():
    assert exclusion({"subscribed": False}, NO_SUPPRESSION) == "unsubscribed"
    assert exclusion({"subscribed": False}, NO_SUPPRESSION, ignore=True) == "unsubscribed"
    assert exclusion({}, NO_SUPPRESSION) is None, "unknown subscription is not an unsubscribe"


def test_empty_settings_suppress_nothing():
    assert SuppressionPolicy.from_document({}, DEFAULT_CATALOG) == NO_SUPPRESSION
    assert SuppressionPolicy.from_document(None, DEFAULT_CATALOG).active is False


def test_rule_references_are_found_for_the_caller_to_supply():
    policy = SuppressionPolicy(
        rule_document={
            "any": [
                {"segment": "blocked"},
                {"not": {"event": "clicked", "within_last_days": 30}},
                {"field": "event", "op": "eq", "value": "x"},
            ]
        }
    )
    assert policy.segment_ids == {"blocked"} and policy.event_names == {"clicked"}


def test_event_lookback_is_the_longest_bounded_window_or_unbounded():
    bounded = SuppressionPolicy(
        rule_document={"any": [{"event": "a", "within_last_days": 30}, {"event": "b", "within_last_days": 90}]}
    )
    unbounded = SuppressionPolicy(rule_document={"any": [{"event": "a", "within_last_days": 30}, {"event": "b"}]})
    assert bounded.event_lookback_days == 90
    assert unbounded.event_lookback_days is None
    assert SuppressionPolicy(rule_document={"field": "city", "op": "is_empty"}).event_lookback_days is None


def test_the_policy_as_one_rule_agrees_with_the_per_contact_check():
    from audience.rules import evaluate_record, parse_rule

    policy = SuppressionPolicy.from_document(
        {
            "rules": {"field": "stage", "op": "eq", "value": "churned"},
            "received_at_least_never_clicked": {"enabled": True, "min_received": 3},
        },
        DEFAULT_CATALOG,
    )
    combined = parse_rule(policy.as_rule_document(), DEFAULT_CATALOG)
    contacts = [
        {"sent_count": 3},
        {"sent_count": 3, "clicks_count": 0},
        {"sent_count": 3, "clicks_count": 2},
        {"sent_count": 9, "last_clicked_at": "2025-05-01T00:00:00Z"},
        {"sent_count": 2, "stage": "Churned"},
        {"stage": "lead"},
        {},
    ]
    for contact in contacts:
        expected = policy.suppresses(contact, as_of=AS_OF, catalog=DEFAULT_CATALOG)
        assert evaluate_record(combined, contact, as_of=AS_OF, catalog=DEFAULT_CATALOG) == expected, contact
    assert [policy.suppresses(c, as_of=AS_OF, catalog=DEFAULT_CATALOG) for c in contacts] == [
        True, True, False, False, True, False, False,
    ]  # fmt: skip
    assert NO_SUPPRESSION.as_rule_document() is None

"""Segments storage on moto: versions, If-Match, tenant isolation, filtered pagination."""

import pytest
from audience.errors import BadRequest, NotFound, PreconditionFailed
from audience.storage import segments_repo

RULE = {"all": [{"field": "country", "op": "eq", "value": "DE"}, {"field": "age", "op": "gte", "value": 18.5}]}


def test_created_segment_reads_back_with_version_1_and_exact_rules(aws):
    created = segments_repo.create("acme", name="Adults DE", type="dynamic", rules=RULE, topics=["news"])
    stored = segments_repo.get("acme", created.id)
    assert stored.version == 1
    assert stored.rules == RULE
    assert isinstance(stored.rules["all"][1]["value"], float)
    assert stored.topics == ["news"] and stored.type == "dynamic" and stored.member_count == 0


def test_other_tenant_cannot_read_update_or_delete_a_segment(aws):
    created = segments_repo.create("acme", name="A", type="static")
    with pytest.raises(NotFound):
        segments_repo.get("globex", created.id)
    with pytest.raises(NotFound):
        segments_repo.update("globex", created.id, {"name": "stolen"}, expected_version=1)
    with pytest.raises(NotFound):
        segments_repo.delete("globex", created.id)
    assert segments_repo.get("acme", created.id).name == "A"


def test_update_with_current_version_bumps_it_and_stale_version_changes_nothing(aws):
    created = segments_repo.create("acme", name="A", type="static", description="old")
    updated = segments_repo.update("acme", created.id, {"name": "B", "description": None}, expected_version=1)
    assert (updated.version, updated.name, updated.description) == (2, "B", None)
    with pytest.raises(PreconditionFailed) as stale:
        segments_repo.update("acme", created.id, {"name": "C"}, expected_version=1)
    assert stale.value.details[0]["path"] == "If-Match"
    assert segments_repo.get("acme", created.id).name == "B"


def test_stale_delete_is_refused_and_current_delete_removes(aws):
    created = segments_repo.create("acme", name="A", type="static")
    segments_repo.update("acme", created.id, {"name": "B"}, expected_version=1)
    with pytest.raises(PreconditionFailed):
        segments_repo.delete("acme", created.id, expected_version=1)
    segments_repo.delete("acme", created.id, expected_version=2)
    assert segments_repo.find("acme", created.id) is None


def test_evaluation_results_do_not_make_if_match_stale(aws):
    created = segments_repo.create("acme", name="A", type="dynamic", rules=RULE)
    assert segments_repo.record_evaluation("acme", created.id, member_count=42, evaluated_at="2024-05-01T00:00:00.000Z")
    after = segments_repo.update("acme", created.id, {"priority": 3}, expected_version=1)
    assert (after.member_count, after.version, after.priority) == (42, 2, 3)
    assert after.last_evaluated_at == "2024-05-01T00:00:00.000Z"
    assert not segments_repo.record_evaluation("acme", "missing", member_count=1, evaluated_at="x")


def test_list_filters_and_paginates_without_losing_or_repeating_items(aws):
    ids = set()
    for i in range(7):
        seg = segments_repo.create(
            "acme",
            name=f"Promo {i}" if i % 2 else f"Other {i}",
            type="static",
            category="c" if i < 4 else None,
        )
        ids.add(seg.id)
    segments_repo.create("globex", name="Promo X", type="static")
    seen, key = [], None
    while True:
        page = segments_repo.list_page("acme", limit=3, start_key=key)
        seen += [s.id for s in page.items]
        key = page.next_key
        if key is None:
            break
    assert sorted(seen) == sorted(ids)
    promos = segments_repo.list_page("acme", q="PROMO").items
    assert sorted(s.name for s in promos) == ["Promo 1", "Promo 3", "Promo 5"]
    in_c = segments_repo.list_page("acme", category="c", q="promo").items
    assert sorted(s.name for s in in_c) == ["Promo 1", "Promo 3"]


def test_start_key_from_another_tenant_is_a_bad_request(aws):
    segments_repo.create("acme", name="A", type="static")
    with pytest.raises(BadRequest):
        segments_repo.list_page("globex", start_key={"pk": "T#acme", "sk": "SEG#x"})
    with pytest.raises(BadRequest):
        segments_repo.list_page("acme", start_key={"pk": "T#acme", "sk": "JOB#x"})


def test_member_count_adjusts_atomically_without_bumping_version(aws):
    created = segments_repo.create("acme", name="A", type="static")
    assert segments_repo.adjust_member_count("acme", created.id, 5) == 5
    assert segments_repo.adjust_member_count("acme", created.id, -2) == 3
    assert segments_repo.get("acme", created.id).version == 1
    assert segments_repo.adjust_member_count("globex", created.id, 1) is None

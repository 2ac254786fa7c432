"""Static segment use cases on moto: members, category exclusivity, transfer, clone, save-as-list,
delete protection, uses, stats and If-Match."""

import pytest
from audience.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from audience.segments.clone import clone_segment
from audience.segments.create import create_segment
from audience.segments.delete import delete_segment
from audience.segments.inputs import CloneRequest, SaveAsListRequest, SegmentDraft, SegmentPatch
from audience.segments.members import add_members, list_members, remove_members
from audience.segments.save_as_list import save_as_list
from audience.segments.stats import segment_stats
from audience.segments.transfer import transfer
from audience.segments.update import patch_segment
from audience.segments.uses import segment_uses
from audience.storage import campaigns_repo, categories_repo, contacts_repo, memberships_repo, segments_repo

T = "acme"


def members_of(segment_id, tenant=T):
    return sorted(memberships_repo.iter_members(tenant, segment_id))


@pytest.fixture
def people(aws):
    for i in range(1, 6):
        contacts_repo.upsert(T, f"c{i}", {"email": f"p{i}@x.com", "first_name": f"P{i}", "score": i})
    return [f"c{i}" for i in range(1, 6)]


def static(name, category=None, tenant=T):
    return create_segment(tenant, SegmentDraft(name=name, type="static", category=category))


def test_add_members_counts_and_lists_them_joined_with_fields(people):
    seg = static("VIP")
    assert add_members(T, seg.id, ["c1", "c2", "c2"]) == {"added": 2, "moved": 0, "member_count": 2,
                                                         "unknown_contacts": []}
    assert add_members(T, seg.id, ["c2", "c3"])["added"] == 1
    assert segments_repo.get(T, seg.id).member_count == 3
    page = list_members(T, seg.id, fields=["email", "score"])
    assert page.items[0] == {"contact_id": "c1", "email": "p1@x.com", "score": 1}
    full = list_members(T, seg.id, limit=2)
    assert full.items[1]["first_name"] == "P2" and full.next_key is not None


def test_unknown_or_foreign_contacts_are_reported_and_the_known_ones_added(people):
    contacts_repo.upsert("globex", "g1", {"city": "X"})
    seg = static("VIP")
    outcome = add_members(T, seg.id, ["c1", "nope", "g1"])
    assert (outcome["added"], outcome["unknown_contacts"]) == (1, ["nope", "g1"])
    assert members_of(seg.id) == ["c1"]
    outcome = add_members(T, seg.id, ["nope"])
    assert outcome == {"added": 0, "moved": 0, "member_count": 1, "unknown_contacts": ["nope"]}
    assert members_of(seg.id) == ["c1"]


def test_unknown_fields_in_member_listing_are_rejected(people):
    seg = static("VIP")
    with pytest.raises(ValidationFailed):
        list_members(T, seg.id, fields=["shoe_size"])


def test_static_segment_of_a_category_takes_contacts_from_its_siblings(people):
    categories_repo.create(T, "stage")
    lead, customer = static("Lead", "stage"), static("Customer", "stage")
    other = static("Newsletter")
    add_members(T, lead.id, ["c1", "c2"])
    add_members(T, other.id, ["c1"])
    outcome = add_members(T, customer.id, ["c1"])
    assert outcome["moved"] == 1
    assert members_of(lead.id) == ["c2"] and members_of(customer.id) == ["c1"]
    assert members_of(other.id) == ["c1"]
    assert segments_repo.get(T, lead.id).member_count == 1


@pytest.mark.parametrize("how", ["per_contact_index_queries", "per_segment_batch_gets"])
def test_category_exclusivity_is_the_same_whichever_way_siblings_are_read(people, how, monkeypatch):
    """A few contacts are looked up by contact (index Queries); a list of many against a category
    of few segments is checked segment by segment (BatchGets): both must move the same members."""
    from audience.segments import placement

    categories_repo.create(T, "stage")
    lead, mql, customer = static("Lead", "stage"), static("MQL", "stage"), static("Customer", "stage")
    dynamic_sibling = create_segment(
        T, SegmentDraft(name="Hot", type="dynamic", category="stage", rules={"field": "score", "op": "gte", "value": 4})
    )
    memberships_repo.add_many(T, dynamic_sibling.id, ["c4", "c5"], source="dynamic", category="stage")
    segments_repo.adjust_member_count(T, dynamic_sibling.id, 2)
    add_members(T, lead.id, ["c1", "c2"])
    add_members(T, mql.id, ["c3"])
    queries = []
    real_segments_of = memberships_repo.segments_of
    monkeypatch.setattr(
        memberships_repo, "segments_of", lambda tenant, cid: queries.append(cid) or real_segments_of(tenant, cid)
    )
    if how == "per_contact_index_queries":  # make the index path the cheaper one
        monkeypatch.setattr(memberships_repo, "BATCH_GET_SIZE", 1)
    outcome = placement.place(T, customer, ["c1", "c3", "c5", "c2"])

    assert outcome == {"added": 4, "moved": 4, "member_count": 4}
    assert members_of(customer.id) == ["c1", "c2", "c3", "c5"]
    assert members_of(lead.id) == [] and members_of(mql.id) == [] and members_of(dynamic_sibling.id) == ["c4"]
    assert [segments_repo.get(T, s.id).member_count for s in (lead, mql, dynamic_sibling)] == [0, 0, 1]
    assert len(queries) == (4 if how == "per_contact_index_queries" else 0)


def test_remove_given_members_or_all_keeps_contacts(people):
    seg = static("VIP")
    add_members(T, seg.id, people)
    assert remove_members(T, seg.id, ["c1", "zzz"]) == {"removed": 1, "member_count": 4}
    assert remove_members(T, seg.id, None) == {"removed": 4, "member_count": 0}
    assert contacts_repo.find(T, "c2") is not None


def test_transfer_moves_the_members_and_reports_the_ids_that_are_not(people):
    source, target = static("A"), static("B")
    add_members(T, source.id, ["c1", "c2", "c3"])
    outcome = transfer(T, source.id, ["c1"], target.id)
    assert (outcome["added_to_target"], outcome["removed_from_source"], outcome["not_members"]) == (1, 1, [])
    assert members_of(source.id) == ["c2", "c3"] and members_of(target.id) == ["c1"]
    # bad values, not bad rows: c5 is nobody's member, c1 has moved already (a retry)
    outcome = transfer(T, source.id, ["c5", "c2", "c1"], target.id)
    assert (outcome["transferred"], outcome["removed_from_source"], outcome["not_members"]) == (1, 1, ["c5", "c1"])
    assert members_of(source.id) == ["c3"] and members_of(target.id) == ["c1", "c2"]
    outcome = transfer(T, source.id, ["c5"], target.id)
    assert (outcome["transferred"], outcome["added_to_target"], outcome["not_members"]) == (0, 0, ["c5"])
    with pytest.raises(ValidationFailed):
        transfer(T, source.id, ["c3"], "missing")
    assert members_of(source.id) == ["c3"]


def test_transfer_applies_the_targets_category(people):
    categories_repo.create(T, "stage")
    lead, customer, other = static("Lead", "stage"), static("Customer", "stage"), static("Inbox")
    add_members(T, lead.id, ["c1"])
    add_members(T, other.id, ["c1"])
    transfer(T, other.id, ["c1"], customer.id)
    assert members_of(lead.id) == [] and members_of(customer.id) == ["c1"] and members_of(other.id) == []


def test_clone_copies_definition_and_members_outside_the_category(people):
    categories_repo.create(T, "stage")
    seg = create_segment(T, SegmentDraft(name="Lead", type="static", category="stage", topics=["a"]))
    add_members(T, seg.id, ["c1", "c2"])
    copy = clone_segment(T, seg.id, CloneRequest(name="Lead copy"))
    assert (copy.name, copy.type, copy.category, copy.topics, copy.member_count) == (
        "Lead copy",
        "static",
        None,
        ["a"],
        2,
    )
    assert members_of(seg.id) == ["c1", "c2"]


def test_save_as_list_freezes_current_members(people):
    seg = static("A")
    add_members(T, seg.id, ["c3", "c4"])
    frozen = save_as_list(T, seg.id, SaveAsListRequest(name="Snapshot of A"))
    remove_members(T, seg.id, None)
    assert frozen.type == "static" and members_of(frozen.id) == ["c3", "c4"]


def test_delete_is_refused_while_a_live_campaign_uses_it_unless_forced(people):
    seg = static("Audience")
    add_members(T, seg.id, ["c1"])
    campaigns_repo.create(T, name="Spring", segment_ids=[seg.id], status="active")
    with pytest.raises(Conflict) as used:
        delete_segment(T, seg.id)
    assert used.value.details[0]["path"].startswith("/campaigns/")
    report = delete_segment(T, seg.id, force=True)
    assert report["deleted"] and report["campaigns"][0]["name"] == "Spring"
    assert segments_repo.find(T, seg.id) is None and members_of(seg.id) == []
    assert contacts_repo.find(T, "c1") is not None


def test_delete_with_stale_if_match_changes_nothing(people):
    seg = static("A")
    patch_segment(T, seg.id, SegmentPatch(name="B"))
    with pytest.raises(PreconditionFailed):
        delete_segment(T, seg.id, if_match=1)
    assert segments_repo.get(T, seg.id).name == "B"
    with pytest.raises(PreconditionFailed):
        patch_segment(T, seg.id, SegmentPatch(name="C"), if_match=1)
    assert patch_segment(T, seg.id, SegmentPatch(name="C"), if_match=2).version == 3


def test_other_tenants_segments_are_not_found(people):
    seg = static("A")
    for action in (
        lambda: add_members("globex", seg.id, ["c1"]),
        lambda: list_members("globex", seg.id),
        lambda: delete_segment("globex", seg.id),
        lambda: transfer("globex", seg.id, ["c1"], seg.id),
        lambda: segment_uses("globex", seg.id),
        lambda: segment_stats("globex", seg.id),
        lambda: patch_segment("globex", seg.id, SegmentPatch(name="x")),
    ):
        with pytest.raises(NotFound):
            action()
    assert segments_repo.get(T, seg.id).name == "A"


def test_type_cannot_change_and_category_must_exist(people):
    seg = static("A")
    with pytest.raises(ValidationFailed) as bad:
        patch_segment(T, seg.id, SegmentPatch(type="dynamic"))
    assert bad.value.details[0]["path"] == "/type"
    with pytest.raises(ValidationFailed) as missing:
        patch_segment(T, seg.id, SegmentPatch(category="nope"))
    assert missing.value.details[0]["path"] == "/category"
    with pytest.raises(ValidationFailed):
        create_segment(T, SegmentDraft(name="x", type="static", rules={"segment": seg.id}))


def test_making_private_a_segment_a_live_campaign_targets_is_refused(people):
    seg = create_segment(T, SegmentDraft(name="A", type="static", public=True))
    campaigns_repo.create(T, name="Live", segment_ids=[seg.id], status="scheduled")
    with pytest.raises(Conflict):
        patch_segment(T, seg.id, SegmentPatch(public=False))
    assert segments_repo.get(T, seg.id).public


def test_stats_report_days_and_campaigns(people):
    seg = static("A")
    add_members(T, seg.id, ["c1", "c2"])
    remove_members(T, seg.id, ["c1"])
    campaigns_repo.create(T, name="Done", segment_ids=[seg.id], status="completed")
    campaigns_repo.create(T, name="Live", segment_ids=[seg.id], status="active")
    stats = segment_stats(T, seg.id)
    assert (stats["total"], stats["added"], stats["removed"]) == (1, 2, 1)
    assert [c["name"] for c in stats["active_campaigns"]] == ["Live"]
    assert sorted(c["name"] for c in stats["campaigns_participated"]) == ["Done", "Live"]
    with pytest.raises(ValidationFailed):
        segment_stats(T, seg.id, date_from="2024-02-01", date_to="2024-01-01")
    with pytest.raises(ValidationFailed):
        segment_stats(T, seg.id, date_from="yesterday")


def test_dynamic_segments_take_no_members_by_hand(people):
    seg = segments_repo.create(T, name="D", type="dynamic", rules={"field": "score", "op": "gt", "value": 1})
    with pytest.raises(Conflict):
        add_members(T, seg.id, ["c1"])
    with pytest.raises(Conflict):
        remove_members(T, seg.id, None)
    target = static("T")
    with pytest.raises(Conflict):
        transfer(T, target.id, ["c1"], seg.id)


def test_moving_a_static_segment_into_a_category_applies_exclusivity_to_its_members(people):
    categories_repo.create(T, "stage")
    lead = static("Lead", "stage")
    add_members(T, lead.id, ["c1", "c2"])
    loose = static("Loose")
    add_members(T, loose.id, ["c1", "c3"])
    moved = patch_segment(T, loose.id, SegmentPatch(category="stage"))
    assert moved.category == "stage" and moved.member_count == 2
    assert members_of(lead.id) == ["c2"]
    assert {m.category for m in memberships_repo.segments_of(T, "c3")} == {"stage"}
    patch_segment(T, loose.id, SegmentPatch(category=None))
    assert {m.category for m in memberships_repo.segments_of(T, "c3")} == {None}


def test_unconditional_write_retries_after_a_concurrent_write_but_if_match_does_not(people, monkeypatch):
    seg = static("A")
    real_get = segments_repo.get
    raced = []

    def get_then_someone_else_writes(tenant, segment_id):
        current = real_get(tenant, segment_id)
        if not raced:
            raced.append(True)
            segments_repo.update(tenant, segment_id, {"description": "theirs"}, expected_version=current.version)
        return current

    monkeypatch.setattr(segments_repo, "get", get_then_someone_else_writes)
    mine = patch_segment(T, seg.id, SegmentPatch(name="mine"))
    assert (mine.name, mine.description, mine.version) == ("mine", "theirs", 3)
    raced.clear()
    with pytest.raises(PreconditionFailed):
        patch_segment(T, seg.id, SegmentPatch(name="conditional"), if_match=3)
    assert real_get(T, seg.id).name == "mine"

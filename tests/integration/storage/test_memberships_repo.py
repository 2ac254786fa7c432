"""Memberships on moto: batch add/remove beyond one batch, paging, by-contact index, emptying."""

from audience.storage import memberships_repo


def test_add_many_beyond_one_batch_and_page_through_all(aws):
    ids = [f"c{i:03d}" for i in range(60)]
    assert memberships_repo.add_many("acme", "s1", ids + ids[:5]) == 60
    assert memberships_repo.count("acme", "s1") == 60
    seen, key = [], None
    while True:
        page = memberships_repo.list_segment("acme", "s1", limit=25, start_key=key)
        seen += [m.contact_id for m in page.items]
        if page.next_key is None:
            break
        key = page.next_key
    assert seen == ids


def test_memberships_are_tenant_scoped(aws):
    memberships_repo.add_many("acme", "s1", ["c1"])
    memberships_repo.add_many("globex", "s1", ["c1", "c2"])
    assert memberships_repo.count("acme", "s1") == 1
    assert [m.segment_id for m in memberships_repo.segments_of("globex", "c2")] == ["s1"]
    assert memberships_repo.segments_of("acme", "c2") == []


def test_remove_many_and_existing(aws):
    memberships_repo.add_many("acme", "s1", ["a", "b", "c"], category="vip")
    memberships_repo.remove_many("acme", "s1", ["a", "zzz"])
    assert memberships_repo.existing("acme", "s1", ["a", "b", "zzz"]) == {"b"}
    assert memberships_repo.segments_of("acme", "b")[0].category == "vip"


def test_remove_all_empties_only_that_segment(aws):
    memberships_repo.add_many("acme", "s1", [f"c{i}" for i in range(30)])
    memberships_repo.add_many("acme", "s2", ["c1"])
    assert memberships_repo.remove_all("acme", "s1") == 30
    assert memberships_repo.count("acme", "s1") == 0
    assert memberships_repo.count("acme", "s2") == 1


def test_remove_contact_reports_segments(aws):
    memberships_repo.add_many("acme", "s1", ["c1"])
    memberships_repo.add_many("acme", "s2", ["c1", "c2"])
    assert sorted(memberships_repo.remove_contact("acme", "c1")) == ["s1", "s2"]
    assert memberships_repo.segments_of("acme", "c1") == []
    assert memberships_repo.count("acme", "s2") == 1


def test_large_segments_are_written_and_emptied_completely_in_parallel_batches(aws):
    ids = [f"c{i:05d}" for i in range(2100)]
    assert memberships_repo.add_many("acme", "big", ids, category="vip") == 2100
    assert memberships_repo.count("acme", "big") == 2100
    assert memberships_repo.set_category("acme", "big", "gold") == 2100
    assert {m.category for m in memberships_repo.segments_of("acme", "c02099")} == {"gold"}
    assert memberships_repo.remove_all("acme", "big") == 2100
    assert memberships_repo.count("acme", "big") == 0


def test_dynamic_memberships_with_and_without_a_stored_source_read_alike_everywhere(aws):
    """A dynamic membership is written without its source now; one written before stores it. Both
    read as dynamic through the segment's pages, the contact's index, a walk and a category rewrite,
    and a static membership keeps its own."""
    from audience.storage.models import MembershipItem, by_contact_pk, membership_pk

    MembershipItem(membership_pk("acme", "s1"), "old", gsi1pk=by_contact_pk("acme", "old"), gsi1sk="s1",
                   source="dynamic", category="life", added_at="2026-12-01T00:00:00Z").save()
    memberships_repo.add_many("acme", "s1", ["new"], source="dynamic", category="life")
    memberships_repo.add_many("acme", "s2", ["new"], source="static")
    stored = {item.sk: item.source for item in MembershipItem.query(membership_pk("acme", "s1"))}
    assert stored == {"new": None, "old": "dynamic"}

    page = memberships_repo.list_segment("acme", "s1")
    assert [(m.contact_id, m.source, m.category) for m in page.items] == [("new", "dynamic", "life"),
                                                                        ("old", "dynamic", "life")]
    assert [m.source for m in memberships_repo.iter_segment("acme", "s1")] == ["dynamic", "dynamic"]
    assert {(m.segment_id, m.source) for m in memberships_repo.segments_of("acme", "new")} == {
        ("s1", "dynamic"), ("s2", "static")}
    assert memberships_repo.set_category("acme", "s1", "other") == 2
    assert {(m.contact_id, m.source, m.category) for m in memberships_repo.iter_segment("acme", "s1")} == {
        ("new", "dynamic", "other"), ("old", "dynamic", "other")}

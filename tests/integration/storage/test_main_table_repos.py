"""The smaller MainTable entities on moto: jobs, history, fields, categories, campaigns,
suppression settings, tenants and API keys, runs and the lease."""

import pytest
from audience.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from audience.fields import FieldType
from audience.storage import (
    campaigns_repo,
    categories_repo,
    fields_repo,
    history_repo,
    jobs_repo,
    runs_repo,
    suppression_repo,
    tenants_repo,
)


def test_job_status_moves_forward_only_and_keeps_counts(aws):
    job = jobs_repo.create("acme", "export", segment_id="s1", params={"format": "csv"})
    assert job.status == "pending"
    jobs_repo.update_status("acme", job.job_id, "running")
    done = jobs_repo.update_status("acme", job.job_id, "succeeded", counts={"row_count": 3}, result={"key": "k"})
    assert (done.status, done.counts, done.result, done.params) == (
        "succeeded",
        {"row_count": 3},
        {"key": "k"},
        {"format": "csv"},
    )
    with pytest.raises(Conflict):
        jobs_repo.update_status("acme", job.job_id, "running")
    assert jobs_repo.find("globex", job.job_id) is None
    assert jobs_repo.find("acme", job.job_id, kind="import") is None
    with pytest.raises(NotFound):
        jobs_repo.update_status("acme", "missing", "running")


def test_history_accumulates_within_a_day_and_reads_a_range(aws):
    history_repo.add_day("acme", "s1", "2024-05-01", 5, 0, 5)
    history_repo.add_day("acme", "s1", "2024-05-01", 2, 1, 6)
    history_repo.add_day("acme", "s1", "2024-05-03", 0, 6, 0)
    history_repo.add_day("acme", "s1", "2024-06-01", 1, 0, 1)
    history_repo.add_day("globex", "s1", "2024-05-02", 9, 9, 9)
    days = history_repo.range("acme", "s1", "2024-05-01", "2024-05-31")
    assert [(d.date, d.added, d.removed, d.total) for d in days] == [
        ("2024-05-01", 7, 1, 6),
        ("2024-05-03", 0, 6, 0),
    ]


def test_custom_fields_build_the_catalog_and_reject_clashes(aws):
    fields_repo.create("acme", "loyalty_tier", "string")
    fields_repo.create("acme", "visits", "number")
    catalog = fields_repo.catalog("acme")
    assert catalog.type_of("visits") == FieldType.NUMBER and "loyalty_tier" in catalog
    assert "visits" not in fields_repo.catalog("globex")
    with pytest.raises(Conflict):
        fields_repo.create("acme", "visits", "number")
    with pytest.raises(ValidationFailed) as bad:
        fields_repo.create("acme", "email", "colour")
    assert [d["path"] for d in bad.value.details] == ["/name", "/type"]


def test_categories_are_unique_and_deletable(aws):
    categories_repo.create("acme", "lifecycle", "one stage per contact")
    with pytest.raises(Conflict):
        categories_repo.create("acme", "lifecycle")
    assert [c.name for c in categories_repo.list_all("acme")] == ["lifecycle"]
    assert categories_repo.list_all("globex") == []
    categories_repo.delete("acme", "lifecycle")
    with pytest.raises(NotFound):
        categories_repo.delete("acme", "lifecycle")


def test_campaigns_find_users_of_a_segment_and_know_when_they_are_live(aws):
    live = campaigns_repo.create("acme", name="Spring", segment_ids=["s1", "s2"], status="active")
    campaigns_repo.create("acme", name="Old", segment_ids=["s1"], status="active", end_at="2000-01-01T00:00:00Z")
    assert sorted(c.name for c in campaigns_repo.using_segment("acme", "s1")) == ["Old", "Spring"]
    assert [c.name for c in campaigns_repo.using_segment("acme", "s1") if c.is_live("2024-01-01T00:00:00Z")] == [
        "Spring"
    ]
    updated = campaigns_repo.update("acme", live.id, {"status": "completed"}, expected_version=1)
    assert updated.version == 2 and not updated.is_live("2024-01-01T00:00:00Z")
    with pytest.raises(PreconditionFailed):
        campaigns_repo.update("acme", live.id, {"name": "x"}, expected_version=1)
    with pytest.raises(NotFound):
        campaigns_repo.get("globex", live.id)


def test_suppression_settings_default_empty_and_versioned(aws):
    assert suppression_repo.get("acme").version == 0
    first = suppression_repo.put("acme", {"global": {"min_messages": 5}}, expected_version=0)
    assert first.version == 1
    with pytest.raises(PreconditionFailed):
        suppression_repo.put("acme", {"global": None}, expected_version=0)
    second = suppression_repo.put("acme", {"rules": []})
    assert second.version == 2 and suppression_repo.get("acme").document == {"rules": []}
    assert suppression_repo.get("globex").document == {}


def test_api_keys_are_stored_hashed_and_resolve_to_their_tenant(aws):
    tenants_repo.create_tenant("acme", "Acme Inc")
    with pytest.raises(Conflict):
        tenants_repo.create_tenant("acme", "Again")
    raw = tenants_repo.issue_key("acme", ("read",))
    resolved = tenants_repo.resolve_key(raw)
    assert resolved.tenant_id == "acme" and resolved.scopes == ["read"] and raw not in resolved.key_hash
    assert tenants_repo.resolve_key(raw.replace("sk_acme_", "sk_globex_")) is None
    assert tenants_repo.resolve_key(raw + "x") is None
    assert tenants_repo.revoke_key("acme", raw)
    assert tenants_repo.resolve_key(raw) is None


def test_lease_excludes_other_owners_until_released(aws):
    assert runs_repo.acquire_lease("acme", "a", 60)
    assert not runs_repo.acquire_lease("acme", "b", 60)
    assert runs_repo.acquire_lease("acme", "a", 60)
    assert runs_repo.acquire_lease("globex", "b", 60)
    runs_repo.release_lease("acme", "a")
    assert runs_repo.acquire_lease("acme", "b", 60)
    runs_repo.put_run("acme", "2024-05-01T00:00:00Z-x", "running", detail={"segments": {"s1": 3}})
    run = runs_repo.put_run("acme", "2024-05-01T00:00:00Z-x", "succeeded")
    assert runs_repo.recent_runs("acme")[0].status == "succeeded" and run.created_at <= run.updated_at

"""POST /segments/{id}/preview-change: counts, entering/leaving and samples equal what a run with the
new rules then does; nothing is saved; same validation as PUT; tenant isolation."""

from __future__ import annotations

from audience.evaluation.run import run_tenant
from audience.storage import categories_repo, contacts_repo, memberships_repo, segments_repo, tenants_repo


def members(tenant, segment_id):
    return set(memberships_repo.iter_members(tenant, segment_id))


def test_preview_change_equals_the_run_with_the_new_rules(tenant, s3, api_call):
    categories_repo.create(tenant, "tier")
    for n in range(30):
        contacts_repo.upsert(tenant, f"c{n:02d}", {"score": n * 3, "country": "DE" if n % 3 else "FR"})
    top = segments_repo.create(tenant, name="Top", type="dynamic", category="tier", priority=0,
                               rules={"field": "score", "op": "gte", "value": 80})
    mid = segments_repo.create(tenant, name="Mid", type="dynamic", category="tier", priority=1,
                               rules={"field": "score", "op": "gte", "value": 40})
    run_tenant(tenant, s3=s3)
    before = members(tenant, mid.id)
    version = segments_repo.get(tenant, mid.id).version
    new_rules = {"all": [{"field": "score", "op": "gte", "value": 20}, {"field": "country", "op": "eq", "value": "DE"},
                         {"not": {"sample": {"from": 0, "to": 20, "seed": "h"}}}]}

    answer = api_call("POST", f"/segments/{mid.id}/preview-change", tenant=tenant, body={"rules": new_rules})
    assert answer.status == 200, answer.text
    preview = answer.json
    assert segments_repo.get(tenant, mid.id).version == version and members(tenant, mid.id) == before

    put = api_call("PATCH", f"/segments/{mid.id}", tenant=tenant, body={"rules": new_rules})
    assert put.status == 200, put.text
    run = run_tenant(tenant, s3=s3)
    after = members(tenant, mid.id)
    assert preview["count_now"] == len(before)
    assert preview["count_after"] == len(after) == run.segments[mid.id]
    assert preview["entering"] == len(after - before) == run.changes[mid.id]["added"] > 0
    assert preview["leaving"] == len(before - after) == run.changes[mid.id]["removed"] > 0
    assert set(preview["sample_entering"]) <= after - before and len(preview["sample_entering"]) == min(
        10, len(after - before))
    assert set(preview["sample_leaving"]) <= before - after
    assert not after & members(tenant, top.id)  # the category still placed contacts in Top first


def test_preview_change_validates_like_put_and_is_isolated(tenant, api_call):
    dynamic = segments_repo.create(tenant, name="D", type="dynamic", rules={"field": "score", "op": "gte", "value": 1})
    static = segments_repo.create(tenant, name="S", type="static")
    bad = api_call("POST", f"/segments/{dynamic.id}/preview-change", tenant=tenant,
                   body={"rules": {"all": [{"field": "score", "op": "contains", "value": "x"}]}})
    assert bad.status == 422 and bad.paths()[0].startswith("/rules/all/0")
    cycle = api_call("POST", f"/segments/{dynamic.id}/preview-change", tenant=tenant,
                     body={"rules": {"segment": dynamic.id}})
    assert cycle.status == 422 and cycle.paths() == ["/rules/segment"]
    assert api_call("POST", f"/segments/{static.id}/preview-change", tenant=tenant,
                    body={"rules": {"field": "score", "op": "gte", "value": 1}}).status == 409
    tenants_repo.create_tenant("other-preview", "Other")
    assert api_call("POST", f"/segments/{dynamic.id}/preview-change", tenant="other-preview",
                    body={"rules": {"field": "score", "op": "gte", "value": 1}}).status == 404

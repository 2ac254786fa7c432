"""GET /segments/{id}/explain/{contact_id}: the reasons, the traced tree, 404s and tenant isolation,
and (property) that explain agrees with the memberships a run stored, for every contact of a
generated tenant."""

from __future__ import annotations

import itertools

from audience.evaluation.run import run_tenant
from audience.segments.members import add_members
from audience.storage import (
    categories_repo,
    contacts_repo,
    memberships_repo,
    segments_repo,
    suppression_repo,
    tenants_repo,
)
from audience.trust.explain import explain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_tenants = itertools.count()


def test_reasons_and_tree(tenant, s3, api_call):
    categories_repo.create(tenant, "tier")
    vip = segments_repo.create(tenant, name="VIP", type="static", category="tier")
    high = segments_repo.create(tenant, name="High", type="dynamic", category="tier", priority=1,
                                rules={"field": "score", "op": "gte", "value": 50})
    any_de = segments_repo.create(tenant, name="DE", type="dynamic",
                                  rules={"all": [{"field": "country", "op": "eq", "value": "DE"},
                                                 {"segment": high.id}]})
    suppression_repo.put(tenant, {"rules": {"field": "status", "op": "eq", "value": "bounced"}})
    contacts_repo.upsert(tenant, "in", {"score": 70, "country": "DE"})
    contacts_repo.upsert(tenant, "low", {"score": 10, "country": "DE"})
    contacts_repo.upsert(tenant, "vip", {"score": 90})
    contacts_repo.upsert(tenant, "bounced", {"score": 90, "status": "bounced"})
    contacts_repo.upsert(tenant, "unsub", {"score": 90, "subscribed": False})
    add_members(tenant, vip.id, ["vip"])
    run_tenant(tenant, s3=s3)

    def ask(segment_id, contact_id):
        answer = api_call("GET", f"/segments/{segment_id}/explain/{contact_id}", tenant=tenant)
        assert answer.status == 200, answer.text
        return answer.json

    found = ask(high.id, "in")
    assert (found["member"], found["matches"], found["reason"]) == (True, True, "rules_matched")
    assert found["tree"] == {"field": "score", "op": "gte", "value": 50, "result": True, "actual": 70}
    low = ask(high.id, "low")
    assert (low["member"], low["matches"], low["reason"]) == (False, False, "rules_not_matched")
    assert low["tree"]["actual"] == 10 and low["tree"]["result"] is False
    placed = ask(high.id, "vip")
    assert (placed["member"], placed["matches"], placed["reason"], placed["placed_in"]) == (
        False, True, "placed_in_other_segment", vip.id)
    assert ask(high.id, "bounced")["reason"] == "suppressed"
    unsub = ask(high.id, "unsub")
    assert (unsub["member"], unsub["reason"]) == (True, "unsubscribed")
    reference = ask(any_de.id, "in")
    assert reference["reason"] == "rules_matched"
    assert reference["tree"]["all"][1] == {"segment": high.id, "result": True, "member": True}
    assert ask(vip.id, "vip")["reason"] == "static_member"
    static_out = ask(vip.id, "in")
    assert (static_out["member"], static_out["reason"], static_out["tree"]) == (False, "not_a_member", None)


def test_unknown_or_other_tenants_segment_or_contact_is_404(tenant, api_call):
    segment = segments_repo.create(tenant, name="All", type="dynamic", rules={"field": "email", "op": "is_not_empty"})
    contacts_repo.upsert(tenant, "ada", {"email": "ada@example.com"})
    tenants_repo.create_tenant("other-explain", "Other")
    assert api_call("GET", f"/segments/{segment.id}/explain/nobody", tenant=tenant).status == 404
    assert api_call("GET", "/segments/nope/explain/ada", tenant=tenant).status == 404
    assert api_call("GET", f"/segments/{segment.id}/explain/ada", tenant="other-explain").status == 404
    assert api_call("GET", f"/segments/{segment.id}/explain/ada", tenant=tenant).status == 200


CONTACTS = st.lists(
    st.fixed_dictionaries({
        "score": st.one_of(st.none(), st.integers(0, 100)),
        "country": st.sampled_from([None, "DE", "de", "FR"]),
        "subscribed": st.sampled_from([None, True, False]),
        "tags": st.sampled_from([[], ["vip"], ["b2b", "VIP"]]),
    }),
    min_size=1, max_size=8,
)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(people=CONTACTS, threshold=st.integers(0, 100), holdout=st.sampled_from([0.5, 30, 70]),
       statics=st.lists(st.booleans(), min_size=8, max_size=8), opt_out=st.booleans())
def test_explain_agrees_with_the_memberships_a_run_stored(aws, s3, people, threshold, holdout, statics, opt_out):
    tenant = f"explain-{next(_tenants)}"
    tenants_repo.create_tenant(tenant, "Explain property")
    categories_repo.create(tenant, "tier")
    listed = segments_repo.create(tenant, name="Listed", type="static", category="tier")
    high = segments_repo.create(tenant, name="High", type="dynamic", category="tier", priority=1,
                                rules={"field": "score", "op": "gte", "value": threshold})
    tagged = segments_repo.create(tenant, name="Tagged", type="dynamic", category="tier", priority=2,
                                  ignore_suppression=opt_out,
                                  rules={"any": [{"field": "tags", "op": "has_any", "value": ["vip"]},
                                                 {"field": "country", "op": "eq", "value": "de"}]})
    kept = segments_repo.create(tenant, name="Kept", type="dynamic", rules={"all": [
        {"any": [{"segment": high.id}, {"segment": listed.id}]},
        {"not": {"sample": {"from": 0, "to": holdout, "seed": "h"}}}]})
    suppression_repo.put(tenant, {"rules": {"field": "subscribed", "op": "is_false"}})
    ids = [f"p{n}" for n in range(len(people))]
    for contact_id, fields in zip(ids, people, strict=True):
        contacts_repo.upsert(tenant, contact_id, {k: v for k, v in fields.items() if v is not None})
    add_members(tenant, listed.id, [c for c, on in zip(ids, statics, strict=False) if on])
    result = run_tenant(tenant, s3=s3)

    for segment in (listed, high, tagged, kept):
        stored = set(memberships_repo.iter_members(tenant, segment.id))
        for contact_id in ids:
            answer = explain(tenant, segment.id, contact_id, as_of=result.as_of)
            assert answer["member"] == (contact_id in stored)
            if segment.type == "static":
                assert answer["reason"] == ("static_member" if answer["member"] else "not_a_member")
                continue
            assert answer["member"] == (answer["reason"] in ("rules_matched", "unsubscribed")), answer
            assert answer["tree"]["result"] == answer["matches"]

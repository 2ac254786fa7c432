"""The README's tour on a plain `make run`: the demo tenant starts with the sample leads, imported
through the real importer, so the tour's segment ends with members."""

from __future__ import annotations

import requests


def test_the_readme_tour_ends_with_a_non_zero_answer(local_stack):
    key = local_stack.info()["tenants"][0]["api_key"]
    headers = {"X-Api-Key": key}
    imports = local_stack.log()
    assert "40 leads imported from infra/sample/leads.csv (1 with a value dropped, 0 rejected" in imports

    body = {"name": "VIP", "type": "dynamic", "rules": {"field": "score", "op": "gte", "value": 80}}
    created = requests.post(f"{local_stack.url}/segments", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    assert requests.post(f"{local_stack.url}/_local/schedule", timeout=120).status_code == 200
    listed = requests.get(f"{local_stack.url}/segments", headers=headers, timeout=10).json()["items"]
    vip = next(s for s in listed if s["id"] == created.json()["id"])
    assert vip["member_count"] == 8

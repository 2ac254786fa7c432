"""`make run ARGS=--demo`, shrunk: every demo contact arrives through the real importer."""

from __future__ import annotations

import re

import requests

from tests.e2e.conftest import start_stack


def test_the_demo_loads_its_contacts_through_the_importer(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_CONTACTS", "150")
    stack = start_stack(tmp_path / "demo.log", "--demo")
    try:
        log = stack.log()
        assert "150 contacts imported (0 rejected)" in log
        assert "importer" in log and "demo-contacts.csv" in log  # the upload went through the importer
        key = stack.info()["tenants"][0]["api_key"]
        segments = requests.get(f"{stack.url}/segments?limit=100", headers={"X-Api-Key": key}, timeout=10).json()
        leads = next(s for s in segments["items"] if s["name"] == "Lifecycle: Leads")
        counts = [int(n) for n in re.findall(r"Lifecycle: \w[\w ]*?\s+(\d+)\n", log)]
        assert sum(counts) == 150 and leads["member_count"] > 0
    finally:
        assert stack.stop() == 0

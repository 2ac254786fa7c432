"""Exports and bulk jobs on the local stack over HTTP: the API queues the job, the stack's SQS
poller runs the real exporter, the presigned URL downloads a workbook that openpyxl opens."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest
import requests

pytestmark = pytest.mark.e2e


def _poll(url: str, headers: dict, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(url, headers=headers, timeout=10).json()
        if body.get("status") in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def test_xlsx_export_and_score_reset_run_on_the_local_stack(local_stack, api_key):
    base, headers = local_stack.url, {"X-Api-Key": api_key}
    people = {"e2e-x1": {"email": "x1@example.com", "first_name": "=HYPERLINK(\"x\")", "score": 7},
              "e2e-x2": {"email": "x2@example.com", "first_name": "Zoë", "score": 9}}  # fmt: skip
    for contact_id, fields in people.items():
        put = requests.put(f"{base}/contacts/{contact_id}", json=fields, headers=headers, timeout=10)
        assert put.status_code in (200, 201), put.text
    segment = requests.post(f"{base}/segments", json={"name": "E2E export", "type": "static"}, headers=headers,
                            timeout=10).json()  # fmt: skip
    added = requests.post(f"{base}/segments/{segment['id']}/members", json={"contact_ids": list(people)},
                          headers=headers, timeout=10)  # fmt: skip
    assert added.status_code in (200, 201), added.text

    body = {"format": "xlsx", "fields": ["contact_id", "first_name", "score"], "file_name": "e2e"}
    queued = requests.post(f"{base}/segments/{segment['id']}/exports", json=body, headers=headers, timeout=10)
    assert queued.status_code == 202, queued.text
    done = _poll(f"{base}/exports/{queued.json()['job_id']}", headers)
    assert done["status"] == "succeeded", done
    assert done["row_count"] == 2 and done["file_name"] == "e2e.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(requests.get(done["download_url"], timeout=10).content))
    rows = list(workbook["Contacts"].iter_rows(values_only=True))
    assert rows == [("contact_id", "first_name", "score"), ("e2e-x1", "'=HYPERLINK(\"x\")", 7), ("e2e-x2", "Zoë", 9)]

    reset = requests.post(f"{base}/segments/{segment['id']}/reset-score",
                          json={"reason": "e2e", "confirm": True}, headers=headers, timeout=10)  # fmt: skip
    assert reset.status_code == 202, reset.text
    finished = _poll(f"{base}/jobs/{reset.json()['job_id']}", headers)
    assert finished["status"] == "succeeded" and finished["contacts_updated"] == 2
    score = requests.get(f"{base}/contacts/e2e-x1", headers=headers, timeout=10).json()["score"]
    assert score == 0

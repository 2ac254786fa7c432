"""The local stack over HTTP, as a caller sees it: local endpoints, the authorizer, the API, imports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.conftest import PROJECT_ROOT, start_stack

pytestmark = pytest.mark.e2e


def _wait_for(fetch, done, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_info_names_the_template_resources_and_the_demo_tenant(local_stack):
    info = local_stack.info()
    assert info["api"] == local_stack.url
    assert info["aws_endpoint"].startswith("http://127.0.0.1:")
    assert set(info["tables"]) == {"MainTable", "ContactsTable", "MembershipsTable", "IdempotencyTable"}
    assert set(info["buckets"]) == {"ImportBucket", "DataBucket", "ExportBucket", "ConsoleBucket"}
    demo = info["tenants"][0]
    assert demo["tenant_id"] == "demo"
    assert demo["api_key"].startswith("sk_demo_")


def test_created_tenant_gets_a_key_that_the_authorizer_accepts(local_stack):
    answer = requests.post(f"{local_stack.url}/_local/tenants", json={"name": "Acme Retail"}, timeout=10)
    assert answer.status_code == 201
    tenant = answer.json()
    assert tenant["tenant_id"].startswith("acme-retail")
    listed = requests.get(f"{local_stack.url}/segments", headers={"X-Api-Key": tenant["api_key"]}, timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    assert tenant["tenant_id"] in [t["tenant_id"] for t in local_stack.info()["tenants"]]


def test_tenant_without_a_name_is_rejected(local_stack):
    answer = requests.post(f"{local_stack.url}/_local/tenants", json={"name": ""}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["path"] == "/name"


@pytest.mark.parametrize(
    "headers", [{}, {"X-Api-Key": "sk_demo_not-a-real-key-at-all-000000"}, {"X-Api-Key": "x"}]
)
def test_missing_or_bad_key_is_401_in_the_error_shape(local_stack, headers):
    answer = requests.get(f"{local_stack.url}/segments", headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_segment_created_through_the_api_can_be_read_back(local_stack, api_key):
    headers = {"X-Api-Key": api_key}
    body = {
        "name": "Engaged French leads",
        "type": "dynamic",
        "rules": {
            "all": [
                {"field": "country", "op": "eq", "value": "FR"},
                {"field": "score", "op": "gte", "value": 50},
            ]
        },
    }
    created = requests.post(f"{local_stack.url}/segments", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    segment = created.json()
    fetched = requests.get(f"{local_stack.url}/segments/{segment['id']}", headers=headers, timeout=10)
    assert fetched.status_code == 200
    assert fetched.json()["name"] == "Engaged French leads"
    assert fetched.json()["rules"] == body["rules"]


def test_another_tenant_cannot_see_the_segment(local_stack, api_key):
    headers = {"X-Api-Key": api_key}
    body = {"name": "Private", "type": "static"}
    segment = requests.post(f"{local_stack.url}/segments", json=body, headers=headers, timeout=10).json()
    other = requests.post(f"{local_stack.url}/_local/tenants", json={"name": "Other"}, timeout=10).json()
    answer = requests.get(
        f"{local_stack.url}/segments/{segment['id']}", headers={"X-Api-Key": other["api_key"]}, timeout=10
    )
    assert answer.status_code == 404


def test_openapi_document_and_swagger_ui_are_public(local_stack):
    document = requests.get(f"{local_stack.url}/openapi.json", timeout=10)
    assert document.status_code == 200
    assert "/segments" in document.json()["paths"]
    ui = requests.get(f"{local_stack.url}/docs", timeout=10)
    assert ui.status_code == 200
    assert "swagger" in ui.text.lower()


def test_presigned_upload_is_imported_by_the_importer(local_stack, api_key):
    headers = {"X-Api-Key": api_key}
    job = requests.post(
        f"{local_stack.url}/imports", json={"file_name": "leads.csv"}, headers=headers, timeout=10
    )
    assert job.status_code in (200, 201, 202), job.text
    job = job.json()
    csv = "E-mail,First name,Country\nann@example.com,Ann,FR\nnot-an-email,Bob,DE\n"
    # What `curl --data-binary @leads.csv URL` sends: real S3 keeps the body whatever the type says.
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    upload = requests.put(job["upload_url"], data=csv.encode(), headers=form_type, timeout=10)
    assert upload.status_code == 200

    def status():
        return requests.get(f"{local_stack.url}/imports/{job['job_id']}", headers=headers, timeout=10).json()

    final = _wait_for(status, lambda body: body.get("status") in ("succeeded", "failed"))
    assert final["status"] == "succeeded", final
    assert (final["rows_read"], final["rows_imported"], final["rows_rejected"]) == (2, 1, 1)


def test_schedule_endpoint_runs_the_evaluator_synchronously(local_stack):
    answer = requests.post(f"{local_stack.url}/_local/schedule", timeout=60)
    assert answer.status_code == 200
    runs = answer.json()["runs"]
    assert isinstance(runs, list)


def test_busy_port_fails_with_a_clear_message_and_sigterm_stops_cleanly(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused = subprocess.run(
            [sys.executable, "-m", "infra.localstack", "--port", str(port)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert refused.returncode == 2
    assert f"port {port}" in refused.stderr and "--any-port" in refused.stderr

    second = start_stack(tmp_path / "second.log")
    assert second.info()["tenants"][0]["tenant_id"] == "demo"
    assert second.stop() == 0
    assert "stopped" in second.log()


def test_an_api_event_batch_is_ingested_within_five_seconds(local_stack, api_key):
    headers = {"X-Api-Key": api_key}
    events = [{"contact_id": f"c{n}", "event": "open", "occurred_at": f"2025-0{1 + n % 6}-02T10:00:00Z"}
              for n in range(500)]
    posted = time.monotonic()
    answer = requests.post(f"{local_stack.url}/events", json={"events": events}, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()

    def status():
        return requests.get(f"{local_stack.url}{accepted['status_url']}", headers=headers, timeout=10).json()

    final = _wait_for(status, lambda body: body.get("status") != "pending", timeout=5.0)
    assert final["status"] == "ingested", final
    assert (final["accepted"], final["ingested"], final["rejected"]) == (500, 500, 0)
    assert time.monotonic() - posted < 5.0


@pytest.mark.parametrize("length", [9_000, 70_000])  # past API Gateway's limit; past http.server's own
def test_a_url_over_the_gateways_limit_is_414_in_the_error_shape(local_stack, api_key, length):
    answer = requests.get(f"{local_stack.url}/segments", params={"q": "x" * length},
                          headers={"X-Api-Key": api_key}, timeout=10)
    assert answer.status_code == 414
    assert answer.json()["error"]["code"] == "uri_too_long"

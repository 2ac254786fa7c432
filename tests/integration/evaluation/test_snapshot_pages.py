"""A tenant's first (full) snapshot makes each Query page of its contacts a record batch as soon as
the page is read, while the next page is being fetched, with the same files and keys as one batch
of the whole partition would give."""

from __future__ import annotations

from audience.evaluation import snapshots
from audience.fields import DEFAULT_CATALOG
from audience.storage import contacts_repo
from audience.storage.models import ContactItem

IDS = ["c0", "c1", "c2", "c3", "c4"]


def _small_pages(monkeypatch, size: int) -> list[str]:
    """Query pages of ``size`` contacts; returns the log of pages read and batches built."""
    log: list[str] = []
    query, batch = ContactItem.query, snapshots.contacts_batch

    def paged(*args, **kwargs):
        kwargs["page_size"] = size
        found = query(*args, **kwargs)
        pages = found.page_iter

        def logged():
            for page in pages:
                log.append(f"page {len(page.get('Items') or [])}")
                yield page

        found.page_iter = logged()
        return found

    def logged_batch(contacts, catalog, **kwargs):
        contacts = list(contacts)
        log.append(f"batch {len(contacts)}")
        return batch(contacts, catalog, **kwargs)

    monkeypatch.setattr(ContactItem, "query", paged)
    monkeypatch.setattr(snapshots, "contacts_batch", logged_batch)
    return log


def test_a_full_snapshot_builds_each_pages_batch_before_the_partition_is_read_to_its_end(tenant, s3, monkeypatch):
    for n, contact_id in enumerate(IDS):
        contacts_repo.upsert(tenant, contact_id, {"score": n})
    log = _small_pages(monkeypatch, 2)

    manifest = snapshots.build_snapshot(tenant, s3, full=True)

    batches = [entry for entry in log if entry.startswith("batch")]
    assert batches == ["batch 2", "batch 2", "batch 1"]
    # the first page's batch is built before the last page has been read
    assert log.index("batch 2") < log.index("page 1")
    rows = {
        r["contact_id"]: r
        for b in snapshots.iter_batches(manifest, s3, DEFAULT_CATALOG, keys=True)
        for r in b.to_pylist()
    }
    assert {cid: (r["score"], r[snapshots.KEY]) for cid, r in rows.items()} == {
        cid: (float(n), n) for n, cid in enumerate(IDS)
    }
    assert manifest.next_key == len(IDS)
    assert manifest.watermark == max(c.updated_at for c in contacts_repo.iter_all(tenant))


def test_a_page_split_across_base_files_keeps_every_contact_and_numbers_keys_in_partition_order(
    tenant, s3, monkeypatch
):
    for n, contact_id in enumerate(IDS):
        contacts_repo.upsert(tenant, contact_id, {"score": n})
    log = _small_pages(monkeypatch, 2)
    monkeypatch.setattr(snapshots, "ROWS_PER_FILE", 3)

    manifest = snapshots.build_snapshot(tenant, s3, full=True)

    # the second page is cut where the first file ends; each part its own batch, built as it is read
    assert [entry for entry in log if entry.startswith("batch")] == ["batch 2", "batch 1", "batch 1", "batch 1"]
    assert [entry["rows"] for entry in manifest.files] == [3, 2]
    files = [
        snapshots.read_columns(s3, snapshots.get_settings().data_bucket, entry, ["contact_id", snapshots.KEY])
        for entry in manifest.files
    ]
    assert [f.column("contact_id").to_pylist() for f in files] == [IDS[:3], IDS[3:]]
    assert [f.column(snapshots.KEY).to_pylist() for f in files] == [[0, 1, 2], [3, 4]]
    assert manifest.contact_count == len(IDS)

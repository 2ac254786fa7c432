"""The members' contacts as typed Arrow batches: the newest snapshot, patched with what changed since.

A snapshot (``evaluation.snapshots``) holds every live contact of the tenant as of its watermark. An
export streams its record batches (only the columns it needs), keeps the rows of members
(`rules.vectorised.contains`: each batch hashes only its own id range of the sorted member ids), and
drops the contacts changed since the watermark. Those it reads from the same GSI the next snapshot
will (``by_updated``, from the watermark minus the snapshots' overlap), once per export, newest
version of each: a contact changed after the snapshot is exported with its new values, one erased
since is not exported. Memory: one snapshot file's columns (two while the next is read ahead) plus the
contacts changed since the snapshot (one schedule period's worth).

Without a usable snapshot — the tenant was never evaluated, a needed field was declared or changed
type since the snapshot (its values there would be missing or read as the old type), or more than
``PATCH_LIMIT`` contacts changed since it — the members' contacts are read with
BatchGets (100 keys each, 10 at a time), converted to the same typed batches
(``snapshots.contacts_batch``), so everything downstream is the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from audience.columnar import contacts_schema
from audience.evaluation import snapshots
from audience.fields import FieldCatalog, FieldType
from audience.rules.vectorised import contains, sorted_ids
from audience.storage import contacts_repo
from audience.storage.records import Contact

BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
FETCH_THREADS = 10
FETCH_PAGE = BATCH_GET_KEYS * FETCH_THREADS  # ids per round of concurrent BatchGets
PATCH_ROWS = 10_000  # changed contacts per patch batch
PATCH_LIMIT = 100_000  # more changes than this since the snapshot: it is too old to patch in memory
SNAPSHOT = "snapshot"
BATCH_GET = "batch_get"


class ContactSource:
    """Typed batches (``schema``) of the live contacts among a sorted set of ids (``batches``)."""

    def __init__(self, tenant: str, catalog: FieldCatalog, columns: Sequence[str], *, s3: Any, bucket: str):
        self.tenant, self.catalog, self.s3, self.bucket = tenant, catalog, s3, bucket
        full = contacts_schema(catalog)
        wanted = ["contact_id", *[c for c in dict.fromkeys(columns) if c != "contact_id"]]
        self.schema = pa.schema([full.field(name) for name in wanted])
        self.manifest = snapshots.latest_manifest(tenant, s3, bucket)
        if self.manifest is not None and not _compatible(self.manifest, self.schema, catalog):
            self.manifest = None
        self._patch = self._read_patch() if self.manifest is not None else {}
        if len(self._patch) > PATCH_LIMIT:
            self.manifest, self._patch = None, {}
        self.kind = SNAPSHOT if self.manifest is not None else BATCH_GET
        self._erased: pa.Array | None = None

    # -- the patch: contacts changed since the snapshot's watermark ------------------------------

    def _read_patch(self) -> dict[str, Contact]:
        """Newest version (tombstones included) of every contact changed since the watermark; stops
        past ``PATCH_LIMIT``."""
        patch: dict[str, Contact] = {}
        for contact in contacts_repo.changed_since(self.tenant, _since(self.manifest.watermark)):
            known = patch.get(contact.contact_id)
            if known is None or known.updated_at <= contact.updated_at:
                patch[contact.contact_id] = contact
            if len(patch) > PATCH_LIMIT:
                break
        return patch

    def patch(self) -> dict[str, Contact]:
        return self._patch

    def erased_ids(self) -> pa.Array:
        """Contacts known erased: tombstones of the snapshot's delta and of the patch (read once)."""
        if self._erased is None:
            found = [pa.array([c.contact_id for c in self.patch().values() if c.erased], pa.string())]
            if self.manifest is not None:
                found.append(snapshots.erased_in_delta(self.manifest, self.s3, self.bucket))
            self._erased = sorted_ids(pa.concat_arrays(found))
        return self._erased

    # -- reading ----------------------------------------------------------------------------------

    def batches(self, members: pa.Array) -> Iterator[pa.RecordBatch]:
        """The live contacts among ``members`` (sorted, distinct ids), in batches of ``schema``."""
        if not len(members):
            return
        if self.manifest is None:
            yield from self._fetched(members)
            return
        patch = self.patch()
        replaced = sorted_ids(list(patch))
        for batch in snapshots.iter_batches(self.manifest, self.s3, self.catalog, bucket=self.bucket,
                                            columns=self.schema.names):
            ids = batch.column(0)
            keep = contains(members, ids)
            if len(replaced):
                keep = pc.and_(keep, pc.invert(contains(replaced, ids)))
            kept = batch.filter(keep)
            if kept.num_rows:
                yield kept
        changed = replaced.filter(contains(members, replaced)) if len(replaced) else replaced
        live = [patch[c] for c in changed.to_pylist() if not patch[c].erased]
        for start in range(0, len(live), PATCH_ROWS):
            yield self._typed(live[start:start + PATCH_ROWS])

    def _fetched(self, members: pa.Array) -> Iterator[pa.RecordBatch]:
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            for start in range(0, len(members), FETCH_PAGE):
                ids = members.slice(start, FETCH_PAGE).to_pylist()
                chunks = [ids[i:i + BATCH_GET_KEYS] for i in range(0, len(ids), BATCH_GET_KEYS)]
                found: dict[str, Contact] = {}
                for part in pool.map(lambda chunk: contacts_repo.get_many(self.tenant, chunk), chunks):
                    found.update(part)
                page = [found[c] for c in ids if c in found]  # member order, whatever BatchGet answered in
                if page:
                    yield self._typed(page)

    def _typed(self, contacts: list[Contact]) -> pa.RecordBatch:
        return snapshots.conform(snapshots.contacts_batch(contacts, self.catalog), self.schema)


def _compatible(manifest: snapshots.Manifest, schema: pa.Schema, catalog: FieldCatalog) -> bool:
    """Whether the snapshot stores every needed field as the catalog types it now."""
    for name in schema.names:
        if name == "contact_id":
            continue
        stored = manifest.fields.get(name)
        if stored is None or FieldType(stored) is not catalog.type_of(name):
            return False
    return True


def _since(watermark: str | None) -> str | None:
    """The watermark minus the snapshots' overlap, in the stored stamps' form (as ``snapshots`` reads)."""
    if not watermark:
        return None
    moment = datetime.fromisoformat(watermark.replace("Z", "+00:00")) - snapshots.WATERMARK_OVERLAP
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

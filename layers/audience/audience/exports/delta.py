"""Delta exports (``changes_since``, audience_sha256 only): who joined and who left since a moment,
for an ad platform's customer list, instead of the whole segment.

The member source is the membership history (``storage.membership_history_repo``): each contact's
last change in the segment at or after ``changes_since`` decides its row — ``joined``: ``action =
add``, ``left``: ``action = remove`` (a contact that joined and left again is a remove: the platform
may or may not hold it, removing is always right). Adds pass the export's usual filters
(unsubscribed, suppression, ``updated_since``); removes do not — the platform must drop them whatever
their state. Contacts erased since have no history left and no identifiers to send. The changed ids
come from one Query of the segment's history since then, so a delta costs reads in proportion to the
churn, not to the segment; their fields come from the same snapshot-and-patch source as a full export.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from audience.exports.arrow_cells import batch_rows
from audience.exports.contact_source import ContactSource
from audience.exports.selection import Selection
from audience.exports.writers.audience_sha256 import AudienceSha256Writer
from audience.storage import membership_history_repo


@dataclass(frozen=True)
class Changes:
    added: pa.Array  # sorted, distinct contact ids whose last change is "joined"
    removed: pa.Array  # ... whose last change is "left"

    def __len__(self) -> int:
        return len(self.added) + len(self.removed)


def changed_members(tenant: str, segment_id: str, since: str) -> Changes:
    """Each contact's last change in the segment since ``since``, split into joins and leaves."""
    latest = membership_history_repo.latest_changes_since(tenant, segment_id, since)
    added = sorted(c for c, change in latest.items() if change == "joined")
    removed = sorted(c for c, change in latest.items() if change == "left")
    return Changes(pa.array(added, pa.string()), pa.array(removed, pa.string()))


def change_batches(
    changes: Changes, contacts: ContactSource, selection: Selection, counts: dict[str, int]
) -> Iterator[tuple[pa.RecordBatch, str, int]]:
    """``(batch, action, contacts read)``: the joined contacts through the export's filters, then the
    ones that left, unfiltered."""
    for batch in contacts.batches(changes.added):
        yield selection.apply(batch, counts), "add", batch.num_rows
    for batch in contacts.batches(changes.removed):
        yield batch, "remove", batch.num_rows


def write_changes(writer: AudienceSha256Writer, batch: pa.RecordBatch, action: str) -> int:
    """Write one batch of a delta, each row carrying ``action``; answer the rows written."""
    rows = [{**row, "action": action} for row in batch_rows(batch, writer.columns, writer.types)]
    return writer.write_rows(rows)

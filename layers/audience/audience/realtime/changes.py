"""A contact change as the ContactsTable stream reports it: the new image, or an erasure.

Reads DynamoDB-JSON item images (the stream's ``NewImage``: ContactsTable's stream sends the new
image only; a REMOVE carries the keys alone), never a Lambda event, so the handler stays a thin
shell and tests can build changes from stored items. The image is read as the raw map it is
(``ContactItem``'s layout), not through the pynamodb model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audience.storage.attributes import document_from_raw


def iso_stamp(moment: datetime) -> str:
    """The one timestamp format the service sorts by (``now_iso``): UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ContactChange:
    """What one stream record says about one contact.

    ``fields`` is None when the contact is gone (tombstone or the item removed); ``changed_at`` is
    the moment of the image (its ``updated_at``; for a removed item, the record's creation time):
    records about one contact are ordered by it.
    """

    tenant: str
    contact_id: str
    changed_at: str
    fields: dict[str, Any] | None = field(default=None)

    @property
    def erased(self) -> bool:
        return self.fields is None


def change_from_images(
    keys: dict[str, Any],
    new_image: dict[str, Any] | None,
    approximate_creation: datetime | None,
) -> ContactChange:
    """The change one stream record describes (images in DynamoDB JSON, as the stream sends them)."""
    tenant = keys["pk"]["S"]
    contact_id = keys["sk"]["S"]
    fallback = iso_stamp(approximate_creation or datetime.now(UTC))
    if not new_image:  # REMOVE: the tombstone expired or the item was deleted
        return ContactChange(tenant, contact_id, fallback, None)
    # Read straight from the image (what ``ContactItem`` would give for these three attributes,
    # without building the model and its attributes for every record of every batch).
    changed_at = (new_image.get("updated_at") or {}).get("S") or fallback
    if erasure(new_image):
        return ContactChange(tenant, contact_id, changed_at, None)
    fields = (new_image.get("fields") or {}).get("M")
    return ContactChange(tenant, contact_id, changed_at, document_from_raw(fields) if fields else {})


def erasure(new_image: dict[str, Any] | None) -> bool:
    """Whether a record with this new image (DynamoDB JSON, None for a REMOVE) says the contact is
    gone: read without converting the image's fields (``change_from_images`` gives ``fields`` None)."""
    return not new_image or bool((new_image.get("erased") or {}).get("BOOL"))

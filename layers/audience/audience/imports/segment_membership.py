"""Adding imported contacts to the job's static segment, under category rules: a contact is in at
most one segment of a category, so joining a static segment of category C removes it from the
other segments of C (SPEC §1)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from audience.imports.dynamo import item, key, plain
from audience.imports.errors import ImportFileError
from audience.imports.jobs import now_iso

BY_CONTACT_INDEX = "by_contact"
THREADS = 8


def load_static_segment(ddb, main_table: str, tenant_id: str, segment_id: str) -> dict[str, Any]:
    raw = ddb.get_item(
        TableName=main_table, Key=key(f"T#{tenant_id}", f"SEG#{segment_id}"), ConsistentRead=True
    )
    segment = plain(raw.get("Item"))
    if not segment:
        raise ImportFileError("invalid_segment", f"segment {segment_id} does not exist")
    if segment.get("type") != "static":
        raise ImportFileError(
            "invalid_segment", f"segment {segment_id} is dynamic; imports add to static segments"
        )
    return segment


class SegmentAdder:
    def __init__(self, ddb, memberships_table: str, tenant_id: str, segment: dict[str, Any]) -> None:
        self.ddb = ddb
        self.table = memberships_table
        self.tenant_id = tenant_id
        self.segment_id = str(segment.get("id") or segment["sk"].removeprefix("SEG#"))
        self.category = segment.get("category") or None

    def add_all(self, contact_ids: list[str]) -> int:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return sum(pool.map(self.add, contact_ids))

    def add(self, contact_id: str) -> int:
        """1 when the contact became a member, 0 when it already was."""
        if self.category:
            self._leave_other_segments_of_category(contact_id)
        membership = {
            "pk": f"{self.tenant_id}#{self.segment_id}",
            "sk": contact_id,
            "source": "import",
            "added_at": now_iso(),
            "category": self.category,
            "gsi1pk": f"{self.tenant_id}#{contact_id}",
            "gsi1sk": self.segment_id,
        }
        try:
            self.ddb.put_item(
                TableName=self.table, Item=item(membership), ConditionExpression="attribute_not_exists(sk)"
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return 0
        return 1

    def _leave_other_segments_of_category(self, contact_id: str) -> None:
        pages = self.ddb.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=BY_CONTACT_INDEX,
            KeyConditionExpression="gsi1pk = :c",
            ExpressionAttributeValues=item({":c": f"{self.tenant_id}#{contact_id}"}),
        )
        for page in pages:
            for raw in page.get("Items", []):
                member = plain(raw)
                if member.get("category") == self.category and member.get("gsi1sk") != self.segment_id:
                    self.ddb.delete_item(TableName=self.table, Key=key(member["pk"], member["sk"]))

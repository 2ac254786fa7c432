"""Arrow types for catalog fields: the one column layout shared by snapshots, the vectorised
evaluator, previews and Parquet exports.

Kept apart from ``fields`` so that the API and authorizer never import pyarrow.
"""

from __future__ import annotations

import pyarrow as pa

from audience.fields import FieldCatalog, FieldType

ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.STRING: pa.string(),
    FieldType.NUMBER: pa.float64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.DATE: pa.date32(),
    FieldType.DATETIME: pa.timestamp("us", tz="UTC"),
    FieldType.LIST: pa.list_(pa.string()),
}

# The activity event log: one row per event; property values are kept as strings
# (numbers in decimal notation, booleans as "true"/"false").
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("contact_id", pa.string(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("properties", pa.map_(pa.string(), pa.string())),
    ]
)


def arrow_type(field_type: FieldType) -> pa.DataType:
    return ARROW_TYPES[FieldType(field_type)]


def contacts_schema(catalog: FieldCatalog) -> pa.Schema:
    """Schema of a contacts table: ``contact_id`` first, then every catalog field by name."""
    fields = [pa.field("contact_id", pa.string(), nullable=False)]
    fields += [pa.field(name, arrow_type(t)) for name, t in catalog.fields.items() if name != "contact_id"]
    return pa.schema(fields)

"""Contact use cases behind ``/contacts``: strict validation of field values against the tenant's
catalog, upsert, read, erasure and "which segments is this contact in"."""

"""Resource names, read only from environment variables (template.yaml sets them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    main_table: str
    contacts_table: str
    memberships_table: str
    idempotency_table: str
    import_bucket: str
    data_bucket: str
    export_bucket: str
    jobs_queue_url: str
    region: str
    # Set only on the local stack (moto server); None means "real AWS".
    aws_endpoint_url: str | None
    import_chunks_queue_url: str = ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        main_table=env.get("MAIN_TABLE", "segments-main"),
        contacts_table=env.get("CONTACTS_TABLE", "segments-contacts"),
        memberships_table=env.get("MEMBERSHIPS_TABLE", "segments-memberships"),
        idempotency_table=env.get("IDEMPOTENCY_TABLE", "segments-idempotency"),
        import_bucket=env.get("IMPORT_BUCKET", "segments-imports"),
        data_bucket=env.get("DATA_BUCKET", "segments-data"),
        export_bucket=env.get("EXPORT_BUCKET", "segments-exports"),
        jobs_queue_url=env.get("JOBS_QUEUE_URL", ""),
        region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
        import_chunks_queue_url=env.get("IMPORT_CHUNKS_QUEUE_URL", ""),
        aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
    )

"""What a caller may ask of an export, checked before a job is queued (SPEC §3
``POST /segments/{id}/exports``). Pure and free of pyarrow: the API imports it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from audience.errors import ValidationFailed
from audience.fields import FieldCatalog
from audience.instants import in_utc
from audience.json_types import FIELD_NAME, DateOrDateTime, tenant_name

ExportFormat = Literal["csv", "xlsx", "parquet", "jsonl", "audience_sha256"]
EXTENSIONS: dict[str, str] = {
    "csv": ".csv",
    "xlsx": ".xlsx",
    "parquet": ".parquet",
    "jsonl": ".jsonl",
    "audience_sha256": ".csv",
}
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "audience_sha256": "text/csv; charset=utf-8",
}
# Catalog fields the ad-platform layout can carry (see writers.audience_sha256), and its default.
AUDIENCE_IDENTIFIER_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "country",
    "gender",
)
AUDIENCE_DEFAULT_FIELDS = ("email", "phone")
MAX_STEM_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-() ]+")


class ExportBody(BaseModel):
    """The body of ``POST /segments/{id}/exports`` (also its OpenAPI schema)."""

    model_config = ConfigDict(extra="forbid")

    format: ExportFormat = Field(description="file format; audience_sha256 is Meta's hashed customer list")
    fields: list[Annotated[str, Field(json_schema_extra=tenant_name(FIELD_NAME))]] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="columns in order (catalog field names); default every field, or email+phone",
    )
    added_since: DateOrDateTime | None = Field(
        default=None, description="ISO 8601 date or date-time: members placed in the segment since then"
    )
    updated_since: DateOrDateTime | None = Field(
        default=None, description="ISO 8601 date or date-time: contacts changed since then"
    )
    file_name: str | None = Field(default=None, min_length=1, max_length=255, description="download name (sanitised)")
    changes_since: DateOrDateTime | None = Field(
        default=None,
        description="audience_sha256 only - ISO 8601 date or date-time: only the members who joined (action=add) "
        "or left (action=remove) since then, from the membership history",
    )

    @field_validator("added_since", "updated_since", "changes_since", mode="before")
    @classmethod
    def _iso_instant(cls, value: Any) -> Any:
        """An ISO 8601 date (its first instant) or date-time (no zone: UTC), as a UTC instant."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 date or date-time string")
        text = value.strip()
        try:
            if len(text) == 10:
                return as_utc_instant(date.fromisoformat(text))
            return as_utc_instant(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError("expected an ISO 8601 date (2025-01-31) or date-time (2025-01-31T12:00:00Z)") from None


class ExportSpec(BaseModel):
    """A validated export request, as stored on the job and read back by the exporter."""

    format: ExportFormat
    columns: list[str]
    added_since: str | None = None  # ISO 8601 UTC instant
    updated_since: str | None = None
    file_name: str
    changes_since: str | None = None  # ISO 8601 UTC instant: a delta (audience_sha256 only)


def parse_export_request(body: Any, catalog: FieldCatalog, *, default_stem: str = "export") -> ExportSpec:
    """Validate ``body`` against the tenant's catalog; every problem reported with its JSON path."""
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object", [{"path": "", "message": "expected an object"}])
    try:
        parsed = ExportBody.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed("invalid export request", pydantic_details(exc)) from None
    columns = list(parsed.fields) if parsed.fields else default_columns(parsed.format, catalog)
    details = check_columns(parsed.format, columns, catalog)
    if parsed.changes_since is not None and parsed.format != "audience_sha256":
        details.append({"path": "/changes_since", "message": "only an audience_sha256 export can be a delta"})
    if parsed.changes_since is not None and parsed.added_since is not None:
        details.append({"path": "/changes_since", "message": "a delta already says who joined; drop added_since"})
    if details:
        raise ValidationFailed("invalid export fields", details)
    return ExportSpec(
        format=parsed.format,
        columns=columns,
        added_since=parsed.added_since,
        updated_since=parsed.updated_since,
        file_name=export_file_name(parsed.file_name, parsed.format, default_stem),
        changes_since=parsed.changes_since,
    )


def default_columns(export_format: str, catalog: FieldCatalog) -> list[str]:
    if export_format == "audience_sha256":
        return list(AUDIENCE_DEFAULT_FIELDS)
    return catalog.names()


def check_columns(export_format: str, columns: list[str], catalog: FieldCatalog) -> list[dict[str, str]]:
    details: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, name in enumerate(columns):
        path = f"/fields/{index}"
        if name not in catalog:
            details.append({"path": path, "message": f"unknown field {name!r}"})
        elif export_format == "audience_sha256" and name not in AUDIENCE_IDENTIFIER_FIELDS:
            allowed = ", ".join(AUDIENCE_IDENTIFIER_FIELDS)
            details.append({"path": path, "message": f"audience_sha256 carries only identifiers: {allowed}"})
        elif name in seen:
            details.append({"path": path, "message": f"field {name!r} listed twice"})
        seen.add(name)
    return details


def as_utc_instant(value: datetime | date | None) -> str | None:
    """A date means its first instant (UTC); a datetime without a zone is read as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    value = in_utc(value)
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def export_file_name(requested: str | None, export_format: str, default_stem: str) -> str:
    """A safe download name: no path, ASCII letters/digits/``._-() `` only, the format's extension.

    The name becomes the last part of the S3 key and the ``Content-Disposition`` of the download,
    so anything else (slashes, quotes, control characters, accents) is replaced rather than refused.
    """
    extension = EXTENSIONS[export_format]
    stem = _clean(requested.replace("\\", "/").rsplit("/", 1)[-1]) if requested else ""
    lowered = stem.lower()
    for known in set(EXTENSIONS.values()):
        if lowered.endswith(known):
            stem = stem[: -len(known)]
            break
    stem = stem.strip(" .")[:MAX_STEM_CHARS].strip(" .")
    if not stem:
        stem = _clean(default_stem).strip(" .")[:MAX_STEM_CHARS].strip(" .") or "export"
    return stem + extension


def _clean(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"_+", "_", _UNSAFE.sub("_", ascii_text))


def pydantic_details(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """pydantic errors as SPEC details: ``{"path": "/fields/2", "message": ...}``."""
    details = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        path = prefix + "/" + "/".join(loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if not any(d["path"] == path for d in details):
            details.append({"path": path, "message": message})
    return details

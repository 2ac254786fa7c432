"""Activity events as callers send them (POST /events, .jsonl/.csv/.parquet event files).

Pure pydantic, no pyarrow: the API validates with it. Property values are scalars; the event log
stores them as strings (numbers in decimal notation, booleans "true"/"false").
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, field_validator

from audience.instants import in_utc
from audience.json_types import NOT_BLANK, StorableNumber

MAX_EVENTS_PER_REQUEST = 500
MAX_PROPERTIES = 50

EventName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK)]
ContactId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")]
PropertyValue = Annotated[str, StringConstraints(max_length=1000)] | bool | StorableNumber | None


class ActivityEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: ContactId
    event: EventName
    occurred_at: datetime
    properties: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], PropertyValue] = Field(
        default_factory=dict, max_length=MAX_PROPERTIES
    )

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _not_a_number(cls, value: object) -> object:
        """ISO 8601 text (or a datetime from a Parquet file), never a bare number of seconds."""
        if isinstance(value, int | float):
            raise ValueError("a date-time like 2024-05-31T12:00:00Z")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """A time without a zone is taken as UTC; every stored instant is UTC."""
        return in_utc(value)

    @field_validator("properties")
    @classmethod
    def _finite(cls, value: dict) -> dict:
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"property {key!r} is not a finite number")
        return value

    def property_strings(self) -> dict[str, str]:
        return {k: property_text(v) for k, v in self.properties.items() if v is not None}


class EventBatch(BaseModel):
    """Body of POST /events."""

    model_config = ConfigDict(extra="forbid")

    events: list[ActivityEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class BareEvents(RootModel[list[ActivityEvent]]):
    """A bare array of events (POST /events accepts one too), with the same limits as
    ``EventBatch.events``. A root model, so Powertools' body validation keeps the array whole."""

    root: list[ActivityEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


def property_text(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

"""What callers send to create or change segments, as pydantic models (also the API's body schemas)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from audience.json_types import (
    CATEGORY_NAME,
    CONTACT_ID,
    NOT_BLANK,
    SEGMENT_ID,
    RuleJson,
    json_int,
    may_be_absent,
    tenant_name,
)

NAME = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
ContactId = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=tenant_name(CONTACT_ID))]
ID_LIST = Field(min_length=1, max_length=1000)
Topic = Annotated[str, Field(min_length=1, max_length=100)]
Topics = Annotated[list[Topic], Field(max_length=50)]
"""A segment's topics: at most 50, each 1-100 characters (duplicates are dropped)."""
Priority = json_int(ge=-1_000_000, le=1_000_000)
CategoryName = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra=tenant_name(CATEGORY_NAME))]


def _strip_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _storable(value: Any, path: str = "") -> None:
    """Text must be valid Unicode (no lone surrogates), or DynamoDB would refuse it later."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"invalid Unicode text{' at ' + path if path else ''}") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, path)
            _storable(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable(item, f"{path}/{index}")


class _Strict(BaseModel):
    # strict: JSON false is not the integer 0, nor 0 the boolean false (the schema says which).
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        _storable(value)
        return value


def _rules_follow_the_type(schema: dict[str, Any]) -> None:
    """The document states the rule that ``check_definition`` enforces (422 at ``/rules``): a static
    segment has no rules (its members are added), a dynamic one needs them. Said for the ``type`` the
    body carries; a PUT body may leave ``type`` out, and then the segment's own type decides."""
    schema["allOf"] = [
        {
            "if": {"properties": {"type": {"const": "static"}}, "required": ["type"]},
            "then": {"properties": {"rules": {"type": "null"}}},
        },
        {
            "if": {"properties": {"type": {"const": "dynamic"}}, "required": ["type"]},
            "then": {"properties": {"rules": {"not": {"type": "null"}}}, "required": ["rules"]},
        },
    ]


class SegmentDraft(_Strict):
    """A whole segment definition (POST /segments)."""

    model_config = ConfigDict(json_schema_extra=_rules_follow_the_type)

    name: str = NAME
    description: str | None = Field(default=None, max_length=2000)
    type: Literal["static", "dynamic"]
    rules: RuleJson | None = None
    category: CategoryName | None = None
    priority: Priority = 0
    public: StrictBool = False
    topics: Topics = Field(default_factory=list)
    ignore_suppression: StrictBool = False

    _name = field_validator("name")(_strip_name)

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class SegmentReplacement(SegmentDraft):
    """A whole segment definition replacing a segment's (PUT /segments/{id}). A segment's type never
    changes (a list becomes rules through clone, rules a list through save-as-list), so ``type`` is
    not something PUT replaces: left out, the segment keeps its type; given, it must be the
    segment's type (422 at ``/type`` otherwise). Everything else is replaced, defaults included."""

    type: Literal["static", "dynamic"] = may_be_absent(
        description="the segment's own type, which never changes: may be left out"
    )


class SegmentPatch(_Strict):
    """Some fields of a segment (PATCH); a field that is absent is left as it is. ``null`` clears
    the optional ones (description, rules, category, topics); the others cannot be null, so their
    types admit no null (the document says so) and their ``None`` default only means "absent"."""

    name: str = may_be_absent(min_length=1, max_length=200, pattern=NOT_BLANK)
    description: str | None = Field(default=None, max_length=2000)
    type: Literal["static", "dynamic"] = may_be_absent()
    rules: RuleJson | None = None
    category: CategoryName | None = None
    priority: Priority = may_be_absent()
    public: StrictBool = may_be_absent()
    topics: Topics | None = None
    ignore_suppression: StrictBool = may_be_absent()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _strip_name(value)

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else SegmentDraft._topics(value)


class CloneRequest(_Strict):
    """POST /segments/{id}/clone: a copy under a new name; any definition field may be overridden."""

    name: str = NAME
    description: str | None = Field(default=None, max_length=2000)
    rules: RuleJson | None = None
    category: CategoryName | None = None
    priority: Priority | None = None
    public: StrictBool | None = None
    topics: Topics | None = None

    _name = field_validator("name")(_strip_name)


class MembersRequest(_Strict):
    """POST/DELETE /segments/{id}/members."""

    contact_ids: list[ContactId] = ID_LIST


class TransferRequest(_Strict):
    """POST /segments/{id}/transfer."""

    contact_ids: list[ContactId] = ID_LIST
    to: str = Field(min_length=1, max_length=100, json_schema_extra=tenant_name(SEGMENT_ID))


class SaveAsListRequest(_Strict):
    """POST /segments/{id}/save-as-list: a new static segment holding the current members."""

    name: str = NAME
    description: str | None = Field(default=None, max_length=2000)
    category: CategoryName | None = None
    public: StrictBool = False
    topics: Topics = Field(default_factory=list)

    _name = field_validator("name")(_strip_name)

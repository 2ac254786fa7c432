"""Which file column feeds which contact field.

Headers match field names case- and punctuation-insensitively ("First Name" = first_name), then
through aliases other tools use ("E-mail", "Mobile", "Surname", "Zip"...), unless the job's explicit
mapping says otherwise. Columns that name no field of the tenant's catalog are not imported and are
reported, so nothing is dropped silently. ``contact_id`` and ``created_at`` are the only system
fields a file may feed (``created_at``: the creation time of contacts the import creates).
Pure: no pyarrow (the API validates mappings with it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from audience.fields import SYSTEM_FIELDS, FieldCatalog

# normalised alias -> candidate fields, first one present in the catalog wins. Built-in fields
# need no alias for their own name. "zip" targets custom fields, as zip is not built in.
_ALIAS_GROUPS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("email", "e-mail", "email address", "e-mail address", "mail", "email id", "emails", "e mail"): ("email",),
    (
        "phone",
        "phone number",
        "phone no",
        "mobile",
        "mobile phone",
        "mobile number",
        "mobile no",
        "cell",
        "cell phone",
        "cellphone",
        "cell number",
        "telephone",
        "telephone number",
        "tel",
        "msisdn",
        "mobile phone number",
        "sms",
        "whatsapp",
    ): ("phone",),
    ("first name", "firstname", "first", "given name", "forename", "fname"): ("first_name",),
    ("last name", "lastname", "surname", "family name", "last", "lname"): ("last_name",),
    (
        "company",
        "company name",
        "organization",
        "organisation",
        "org",
        "business",
        "account name",
        "employer",
    ): ("company",),
    ("country", "country code", "country name", "nation"): ("country",),
    ("state", "province", "region", "state province", "state/province", "county"): ("state",),
    ("city", "town", "locality"): ("city",),
    ("gender", "sex"): ("gender",),
    ("age",): ("age",),
    ("score", "lead score"): ("score",),
    ("subscribed", "opt in", "optin", "opted in", "subscription", "marketing consent", "consent"): ("subscribed",),
    ("tags", "tag", "labels", "label"): ("tags",),
    ("contact id", "contact_id", "contactid"): ("contact_id",),
    ("created at", "created_at", "created", "date added", "create date"): ("created_at",),
    ("lifecycle stage", "lead stage", "stage"): ("stage",),
    ("lead status", "status"): ("status",),
    ("mobile carrier", "carrier", "operator"): ("carrier",),
    ("zip", "zip code", "zipcode", "postal code", "postcode", "post code", "postal"): (
        "zip",
        "zip_code",
        "postal_code",
        "postcode",
    ),
}


IMPORTABLE_SYSTEM_FIELDS = frozenset({"contact_id", "created_at"})


def normalise_header(name: object) -> str:
    """Lower-case, accents and punctuation removed: 'E-Mail Address ' -> 'emailaddress'."""
    text = unicodedata.normalize("NFKD", str(name or ""))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]", "", text.lower())


ALIASES: dict[str, tuple[str, ...]] = {
    normalise_header(alias): targets for aliases, targets in _ALIAS_GROUPS.items() for alias in aliases
}


@dataclass(frozen=True)
class IgnoredColumn:
    index: int
    header: str
    reason: str


@dataclass
class ColumnMapping:
    """``columns[i]`` is the field fed by column ``i`` (only mapped columns appear)."""

    columns: dict[int, str] = field(default_factory=dict)
    ignored: list[IgnoredColumn] = field(default_factory=list)

    @property
    def fields(self) -> set[str]:
        return set(self.columns.values())


class MappingError(ValueError):
    """An explicit mapping that cannot apply; ``problems`` are (json path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems


def check_mapping(mapping: Mapping[str, str | None] | None, catalog: FieldCatalog) -> list[tuple[str, str]]:
    """Problems with an explicit mapping ``{"Column header": "field" | null}``, as (path, message)."""
    problems: list[tuple[str, str]] = []
    for header, target in (mapping or {}).items():
        path = f"/mapping/{header}"
        if not normalise_header(header):
            problems.append((path, "a column name must contain letters or digits"))
        if target is None:
            continue
        if not isinstance(target, str) or target not in catalog:
            problems.append((path, f"unknown field {target!r}; declare custom fields through /fields first"))
        elif target in SYSTEM_FIELDS and target not in IMPORTABLE_SYSTEM_FIELDS:
            problems.append((path, f"{target!r} is set by the service and cannot be imported"))
    return problems


def map_columns(
    header: list[str], catalog: FieldCatalog, explicit: Mapping[str, str | None] | None = None
) -> ColumnMapping:
    problems = check_mapping(explicit, catalog)
    if problems:
        raise MappingError(problems)
    explicit_by_key = {normalise_header(k): v for k, v in (explicit or {}).items()}
    header_keys = [normalise_header(h) for h in header]
    missing = [k for k in (explicit or {}) if normalise_header(k) not in header_keys]
    if missing:
        raise MappingError([(f"/mapping/{k}", "the file has no column with this header") for k in missing])

    by_name = {normalise_header(name): name for name in catalog.names()}
    targets: dict[int, str | None] = {}
    reasons: dict[int, str] = {}
    for index, key in enumerate(header_keys):
        if key in explicit_by_key:
            targets[index] = explicit_by_key[key]
            if targets[index] is None:
                reasons[index] = "excluded by the job's mapping"
        elif not key:
            targets[index], reasons[index] = None, "the column has no header"
        else:
            targets[index] = by_name.get(key) or next((t for t in ALIASES.get(key, ()) if t in catalog), None)
            if targets[index] is None:
                reasons[index] = "not a known field: declare it as a custom field through /fields or map it"

    result = ColumnMapping()
    used: dict[str, int] = {}
    # Explicitly mapped columns claim their field before any header guess does.
    order = sorted(range(len(header)), key=lambda i: (header_keys[i] not in explicit_by_key, i))
    for index in order:
        target, raw = targets[index], header[index]
        if target is None:
            result.ignored.append(IgnoredColumn(index, raw, reasons[index]))
        elif target in SYSTEM_FIELDS and target not in IMPORTABLE_SYSTEM_FIELDS:
            result.ignored.append(IgnoredColumn(index, raw, f"{target!r} is set by the service"))
        elif target in used:
            result.ignored.append(
                IgnoredColumn(index, raw, f"column {header[used[target]]!r} already feeds field {target!r}")
            )
        else:
            used[target] = index
            result.columns[index] = target
    result.ignored.sort(key=lambda c: c.index)
    return result

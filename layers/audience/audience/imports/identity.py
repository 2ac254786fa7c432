"""Normalised identity keys: the same person written two ways must become the same key.

Emails are trimmed and lower-cased; phones become E.164 using the tenant's default region for
numbers written without a country code. Pure: no pyarrow, safe for the API; phonenumbers (~15 ms
and its metadata) is imported on the first phone, not by every API cold start.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import phonenumbers

MAX_EMAIL_LENGTH = 254
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class IdentityError(ValueError):
    """The value is not a usable email or phone number; the message says why."""


def normalise_email(value: object) -> str:
    text = str(value).strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    if len(text) > MAX_EMAIL_LENGTH:
        raise IdentityError(f"email longer than {MAX_EMAIL_LENGTH} characters")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise IdentityError("not an email address (no '@')")
    if len(local) > 64 or not _LOCAL.match(local):
        raise IdentityError("the part before '@' is not valid in an email address")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        raise IdentityError("the domain after '@' is not valid")
    return text


def normalise_phone(value: object, default_region: str | None) -> str:
    """E.164 (``+4915112345678``). Spreadsheet numbers (``4915112345678.0``) are read as digits."""
    import phonenumbers

    if isinstance(value, bool):
        raise IdentityError("not a phone number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    region = (default_region or "").upper() or None
    candidates = [text]
    if isinstance(value, int) or (text.isdigit() and len(text) > 10):
        # A spreadsheet that stored "+4915112345678" as a number lost the "+".
        candidates.append("+" + text)
    error: IdentityError | None = None
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException as exc:
            error = error or IdentityError(f"not a phone number ({_parse_reason(exc)})")
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        where = f" for region {region}" if region and not candidate.startswith("+") else ""
        error = error or IdentityError(f"not a valid phone number{where}")
    assert error is not None
    raise error


def is_phone_region(code: str) -> bool:
    """Whether `code` (any case) is a region phonenumbers can read national numbers for (US, DE...)."""
    import phonenumbers

    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def phone_region_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema of a region ``is_phone_region`` accepts: an enum of every supported code, upper
    and lower case (mixed case is accepted too but not listed). Filled in only when the API document
    is generated, so importing the API does not load phonenumbers."""
    import phonenumbers

    codes = sorted(phonenumbers.SUPPORTED_REGIONS)
    schema["enum"] = codes + [code.lower() for code in codes]


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    import phonenumbers

    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no country code and no default region",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, str(exc))

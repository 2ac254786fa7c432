"""Normalised identity keys: the same person written two ways must become the same key.

Emails are trimmed and lower-cased; phones become E.164 using the tenant's default region for
numbers written without a country code. Pure: no pyarrow, safe for the API; phonenumbers (~15 ms
and its metadata) is imported on the first phone, not by every API cold start.
"""

from __future__ import annotations

import re
from functools import cache
from types import ModuleType
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


# The two forms most lists use, read without phonenumbers' ``parse`` (see ``_plain_number``).
_E164 = re.compile(r"\+([1-9][0-9]{6,14})")
_NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]?([0-9]{3})[ .-]?([0-9]{4})")


def normalise_phone(value: object, default_region: str | None) -> str:
    """E.164 (``+4915112345678``). Spreadsheet numbers (``4915112345678.0``) are read as digits."""
    if isinstance(value, bool):
        raise IdentityError("not a phone number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    region = (default_region or "").upper() or None
    number = _plain_number(text, region)
    if number is not None and is_valid_number(number):
        return f"+{number.country_code}{number.national_number}"
    return _parsed_phone(value, text, region)


@cache
def _phonenumbers() -> ModuleType:
    """phonenumbers, imported on the first phone, with its metadata patterns kept compiled
    (``enable_pattern_cache``: otherwise every pattern of every check goes through ``re.compile``'s
    own cache lookup, ~7% of validating a US phone)."""
    import phonenumbers

    phonenumbers.enable_pattern_cache()
    return phonenumbers


def is_valid_number(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number(number)``, with each candidate region's number patterns tested
    once instead of twice.

    For a country code several regions share (+1: US, CA and the Caribbean; +7, +44, ...),
    ``is_valid_number`` first finds the region (``region_code_for_number``: the first of the code's
    regions whose leading digits match, or, for a region without leading digits, whose number
    patterns match), then tests the number against that region's patterns again
    (``is_valid_number_for_region``). A region found by its patterns is one whose patterns match:
    that second test (same metadata, same national number, the region's own country code) can only
    answer True, so it is skipped here — half of the validation of a US number, the most common
    kind. A region found by its leading digits is still tested, and a single-region code goes to
    ``is_valid_number`` as it is. ``tests/unit/imports/test_import_phones.py`` holds both equal on
    every region's example numbers with random digits."""
    phonenumbers = _phonenumbers()
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code)
    if regions is None or len(regions) == 1:
        return phonenumbers.is_valid_number(number)
    national = phonenumbers.national_significant_number(number)
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, national):
                return phonenumbers.is_valid_number_for_region(number, region)
        elif phonenumbers.is_valid_number_for_region(number, region):
            return True
    return False  # no region: is_valid_number_for_region(number, None)


def _plain_number(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The number phonenumbers' ``parse(text, region)`` returns, for the two forms most lists use,
    without ``parse`` (~35 us of its ~50 us a phone: extension, IDD and punctuation regexes); None
    for every other form, which goes through ``parse``.

    - ``+`` and 7-15 digits (E.164: the demo's, and what most tools export): ``parse`` takes the
      country code as the shortest prefix of 1-3 digits that is one, then strips a national prefix
      from the rest if the country's ``national_prefix_for_parsing`` matches at its start, and marks
      a leading zero. Read here only when the rest starts with no zero and that pattern (if any)
      does not match at its start, so ``parse`` would leave the rest as it is: the number is then
      (country code, rest as an integer), as ``parse`` builds it.
    - A US number written nationally with region US: ``(202) 456-1111``, ``202-456-1111``,
      ``202.456.1111``, ``2024561111``, optionally after ``1`` or ``+1``: the area code starts with
      2-9, so US's national prefix (``1``, stripped by ``parse`` only from the front) never touches
      the 10 digits, no extension can follow, and ``parse`` gives (1, the 10 digits).

    Only a number the caller then finds valid is taken from here (its E.164 is ``+`` country code
    and national number: no leading zero); an invalid one goes through ``parse`` too, for its
    error. ``tests/unit/imports/test_import_phones.py`` holds both paths equal on every supported
    region's example numbers with random digits, in both forms, and on odd US forms."""
    match = _E164.fullmatch(text)
    if match is not None:
        from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, region_code_for_country_code

        digits = match[1]
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                break
        else:
            return None
        rest = digits[size:]
        if rest[:1] in ("", "0"):
            return None
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region_code_for_country_code(code))
        if metadata is None:
            return None
        prefix = metadata.national_prefix_for_parsing
        if prefix and re.match(prefix, rest):
            return None
        return PhoneNumber(country_code=code, national_number=int(rest))
    if region == "US":
        match = _NANP.fullmatch(text)
        if match is not None:
            from phonenumbers import PhoneNumber

            area = match[1] or match[2]
            return PhoneNumber(country_code=1, national_number=int(area + match[3] + match[4]))
    return None


def _parsed_phone(value: object, text: str, region: str | None) -> str:
    """``normalise_phone`` through phonenumbers' ``parse``: every form it reads, and the errors."""
    phonenumbers = _phonenumbers()
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
        if is_valid_number(number):
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

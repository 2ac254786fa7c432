"""Phones in the two common forms are read without phonenumbers' ``parse``, with the very answers
``parse`` gives (``identity._plain_number``)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from audience.imports import identity
from audience.imports.identity import IdentityError, normalise_phone


def _outcome(read, *args):
    try:
        return read(*args)
    except IdentityError as exc:
        return f"error: {exc}"


def _both(value, region):
    """(the normaliser's answer, ``parse``'s answer) for one value and default region."""
    text = str(int(value) if isinstance(value, float) else value).strip()
    upper = (region or "").upper() or None
    return _outcome(normalise_phone, value, region), _outcome(identity._parsed_phone, value, text, upper)


def _region_numbers(rng: random.Random) -> list[str]:
    """Every supported region's example numbers of every type, with random digits after the first
    three (valid and invalid ones), as E.164 text."""
    examples = [phonenumbers.example_number_for_non_geo_entity(code) for code in (800, 808, 870, 878, 881, 882, 883)]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        examples += [phonenumbers.example_number_for_type(region, kind) for kind in range(12)]
    numbers = []
    for example in filter(None, examples):
        national = phonenumbers.national_significant_number(example)
        for _ in range(3):
            digits = national[:3] + "".join(rng.choice("0123456789") for _ in national[3:])
            numbers.append(f"+{example.country_code}{digits}")
    return numbers


def test_e164_numbers_of_every_region_read_as_parse_reads_them():
    rng = random.Random(14)
    numbers = _region_numbers(rng)
    numbers += ["+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 16))) for _ in range(3000)]
    assert len(numbers) > 5000
    for text in numbers:
        for region in (None, "US", "de"):
            fast, parsed = _both(text, region)
            assert fast == parsed, (text, region)


@pytest.mark.parametrize(
    "form",
    [
        "({a}) {b}-{c}",
        "{a}-{b}-{c}",
        "{a}.{b}.{c}",
        "{a}{b}{c}",
        "{a} {b} {c}",
        "1 {a} {b} {c}",
        "1-{a}-{b}-{c}",
        "1({a}){b}-{c}",
        "+1 ({a}) {b}-{c}",
        "+1 {a}-{b}-{c}",
        "+1{a}{b}{c}",
        "1{a}{b}{c}",
        " ({a}){b} {c} ",
        "({a}) {b}-{c} x12",
        "{a}-{b}-{c}#",
        "011 {a} {b} {c}",
        "+{a}{b}{c}",
        "({a} {b}-{c}",
    ],
)
def test_us_numbers_written_nationally_read_as_parse_reads_them(form):
    rng = random.Random(form)
    for _ in range(400):
        area = rng.choice(["0", "1", "2", "5", "8", "9"]) + f"{rng.randint(0, 99):02d}"
        text = form.format(a=area, b=f"{rng.randint(0, 999):03d}", c=f"{rng.randint(0, 9999):04d}")
        for region in ("US", "us", "CA", None):
            fast, parsed = _both(text, region)
            assert fast == parsed, (text, region)


def test_spreadsheet_numbers_read_as_parse_reads_them():
    rng = random.Random(3)
    for _ in range(2000):
        value = rng.choice([int, float])(rng.randint(10**6, 10**13))
        fast, parsed = _both(value, rng.choice(["US", "DE", None]))
        assert fast == parsed, value


def test_common_forms_are_read_without_parse(monkeypatch):
    """``parse`` costs ~35 us of a phone's ~50 us: the E.164 form and US national numbers skip it."""

    def no_parse(*args, **kwargs):
        raise AssertionError("parse was called")

    monkeypatch.setattr(phonenumbers, "parse", no_parse)
    assert normalise_phone("+4915112345678", "US") == "+4915112345678"
    assert normalise_phone(" +12024561111 ", None) == "+12024561111"
    assert normalise_phone("(202) 456-1111", "us") == "+12024561111"
    assert normalise_phone("1-202-456-1111", "US") == "+12024561111"
    assert normalise_phone(2024561111.0, "US") == "+12024561111"


def _numbers_of_shared_and_single_codes(rng: random.Random) -> list[phonenumbers.PhoneNumber]:
    """Every region's example numbers with random digits, and random numbers of the country codes
    several regions share (+1, +7, +44, +47, +61, +262, +290, +590, +599, ...), as number objects."""
    shared = [code for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items() if len(regions) > 1]
    numbers = []
    for text in _region_numbers(rng):
        try:
            numbers.append(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            continue
    for code in shared:
        for _ in range(300):
            digits = rng.randint(10**5, 10**11)
            numbers.append(phonenumbers.PhoneNumber(country_code=code, national_number=digits))
    return numbers


def test_validity_is_phonenumbers_own_for_every_region():
    numbers = _numbers_of_shared_and_single_codes(random.Random(21))
    assert len(numbers) > 7_000
    valid = 0
    for number in numbers:
        expected = phonenumbers.is_valid_number(number)
        assert identity.is_valid_number(number) == expected, number
        valid += expected
    assert valid > 1_000  # the random digits give valid numbers of many regions, not only invalid ones


def test_a_us_number_is_matched_against_its_regions_patterns_once(monkeypatch):
    """``is_valid_number`` tested a valid US number against US's patterns twice (to find its region,
    then to validate it there): half of validating the most common phone."""
    from phonenumbers import phonenumberutil

    tested = []
    helper = phonenumberutil._number_type_helper

    def counted(national_number, metadata):
        tested.append(metadata.id)
        return helper(national_number, metadata)

    monkeypatch.setattr(phonenumberutil, "_number_type_helper", counted)
    assert normalise_phone("(202) 456-1111", "US") == "+12024561111"
    assert tested == ["US"]

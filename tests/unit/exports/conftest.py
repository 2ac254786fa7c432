import io

import pytest
from audience.fields import FieldCatalog, FieldType


@pytest.fixture
def catalog() -> FieldCatalog:
    return FieldCatalog(custom={"loyalty_tier": FieldType.STRING, "lifetime_value": FieldType.NUMBER})


@pytest.fixture
def sink() -> io.BytesIO:
    return io.BytesIO()


CONTACTS_DATA = [
    {
        "contact_id": "c1",
        "email": "ana@example.com",
        "phone": "+4915112345678",
        "first_name": "Ana",
        "last_name": "Müller-Łukasz",
        "age": 34,
        "score": 12.5,
        "subscribed": True,
        "created_at": "2025-03-01T10:20:30.000Z",
        "expected_purchase_date": "2025-07-14",
        "tags": ["vip", "newsletter"],
        "loyalty_tier": "gold",
        "lifetime_value": 1234.75,
    },
    {
        "contact_id": "c2",
        "email": "bob@example.com",
        "first_name": '=HYPERLINK("http://evil.example","click")',
        "last_name": "-2+3",
        "company": "@SUM(A1:A2)",
        "city": "\tcmd",
        "state": "\r=1+1",
        "age": -5,
        "subscribed": False,
        "tags": [],
    },
]


@pytest.fixture
def contacts() -> list[dict]:
    """Two contacts: one ordinary, one whose text is built to run as spreadsheet formulas."""
    return [dict(c) for c in CONTACTS_DATA]

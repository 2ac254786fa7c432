"""A number stored as a float and read back as a whole int (1e50 -> 10**50, 51 digits) can be stored
again: make fuzz seed 3 cloned a segment whose rule held such a value and met decimal.Rounded (500)."""

from __future__ import annotations

import pytest
from audience.storage.attributes import from_dynamo, to_dynamo
from boto3.dynamodb.types import TypeSerializer


@pytest.mark.parametrize("value", [1e50, -1e125, 1e38, 10**37, 12345678901234567890123456789012345678, 3, 0])
def test_a_whole_number_read_back_is_stored_again_with_the_same_value(value):
    again = to_dynamo(from_dynamo(to_dynamo(value)))
    TypeSerializer().serialize(again)
    assert again == to_dynamo(value)

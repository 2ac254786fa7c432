"""Request models of the segment use cases: what is accepted, normalised or refused before storage."""

import pytest
from audience.segments.inputs import MembersRequest, SegmentDraft, SegmentPatch, TransferRequest
from pydantic import ValidationError


def test_draft_strips_the_name_and_deduplicates_topics():
    draft = SegmentDraft(name="  VIP  ", type="static", topics=["a", "b", "a"])
    assert draft.name == "VIP" and draft.topics == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"name": "   ", "type": "static"}, ("name",)),
        ({"name": "x", "type": "static", "topics": [""]}, ("topics",)),
        ({"name": "x", "type": "static", "extra": 1}, ("extra",)),
        ({"name": "x" * 201, "type": "static"}, ("name",)),
        ({"name": "x", "type": "static", "priority": 10**7}, ("priority",)),
        ({"name": "bad \ud800", "type": "static"}, ("name",)),
        ({"name": "x", "type": "dynamic", "rules": {"field": "city", "op": "eq", "value": "\udfff"}}, ("rules",)),
    ],
)
def test_draft_refuses_bad_values_at_their_location(body, location):
    with pytest.raises(ValidationError) as refused:
        SegmentDraft.model_validate(body)
    assert refused.value.errors()[0]["loc"][: len(location)] == location


def test_patch_remembers_which_fields_were_sent():
    patch = SegmentPatch.model_validate({"description": None, "priority": 2})
    assert patch.model_fields_set == {"description", "priority"}


def test_member_and_transfer_requests_bound_their_id_lists():
    with pytest.raises(ValidationError):
        MembersRequest(contact_ids=[])
    with pytest.raises(ValidationError):
        MembersRequest(contact_ids=["x"] * 1001)
    with pytest.raises(ValidationError):
        TransferRequest(contact_ids=["a"], to="")
    assert MembersRequest(contact_ids=["a", "b"]).contact_ids == ["a", "b"]

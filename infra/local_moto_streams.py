"""moto's DynamoDB Streams GetRecords answered as plain JSON, with the same records.

moto 5 passes each GetRecords answer through its generic, shape-driven response serializer: with
``NEW_AND_OLD_IMAGES`` that walks every attribute of two images per record, and on the local stack
it was the moto server's largest cost after HTTP handling while an import ran (the stream poller
reads every contact the import writes). The records moto stores are already in the wire format
(DynamoDB JSON images, a creation time that the JSON protocol sends as epoch seconds), so this
dumps them the way moto's DynamoDB handler dumps its own answers.

Each write to a table with a stream also builds its record's images with ``Item.to_json``, which
deep-copies every nested value through ``copy.deepcopy`` and then walks the copy again
(``DynamoType.to_regular_json``): for a contact (its ``fields`` map) that was about a third of
moto's time per item written. ``StreamRecord`` here builds the same images in one walk: the same
``{type: value}`` dicts, new dicts and lists where moto makes copies, base64 text of a nested binary
value decoded as moto decodes it, and the values no write ever changes in place (text, numbers'
text, booleans, bytes, ``None``) shared. A value of any other kind is handed to moto's own
``to_regular_json``. Everything else in the record (keys, time, sequence number) is moto's code.

``SizeBytes``: moto measures it at the write by writing the record's ``dynamodb`` out as JSON, and
GetRecords then writes the same images out again. Here a record's size is measured when it is first
read: GetRecords measures it on the JSON it sends (``_record_json``: the same text but for the
creation time's digits, which are accounted for), any other reader of ``record`` as moto would. Only
the stream's view type's images are built (moto builds both).
"""

from __future__ import annotations

import copy
import json
import math
import threading
from datetime import datetime
from typing import Any

from infra.moto_patches import Patches

_patches = Patches()


_SHARED = (str, bool, bytes, type(None))  # values moto's deep copy gives back as they are


def make_image() -> Any:
    """``item.to_json()["Attributes"]`` of a moto ``Item``, built in one walk (see module)."""
    import base64

    from moto.dynamodb.models.dynamo_type import DynamoType

    def regular(typed: Any) -> dict[str, Any]:  # DynamoType.to_regular_json
        if type(typed) is not DynamoType:
            return typed.to_regular_json()
        kind, value = typed.type, typed.value
        if type(value) in _SHARED:
            if kind == "B" and type(value) is str:
                value = base64.b64decode(value)
            return {kind: value}
        if type(value) is dict:
            return {
                kind: {
                    key: regular(member) if isinstance(member, DynamoType) else _copied(member)
                    for key, member in value.items()
                }
            }
        if type(value) is list:
            return {kind: [regular(member) if isinstance(member, DynamoType) else _copied(member) for member in value]}
        return typed.to_regular_json()

    def image(item: Any) -> dict[str, Any]:  # Item.to_json()["Attributes"]
        attributes: dict[str, Any] = {}
        for name, typed in item.attrs.items():
            value = typed.value
            if isinstance(value, dict):
                attributes[name] = {typed.type: {key: regular(member) for key, member in value.items()}}
            elif isinstance(value, list):
                attributes[name] = {
                    typed.type: [regular(member) if isinstance(member, DynamoType) else member for member in value]
                }
            else:
                attributes[name] = {typed.type: value}
        return attributes

    return image


def _copied(value: Any) -> Any:
    return value if type(value) in _SHARED else copy.deepcopy(value)


def install() -> None:
    """Patch moto's DynamoDB Streams handler and stream records in this process (idempotent)."""
    if _patches.installed:
        return
    import moto.dynamodb.models.table as tables
    from moto.core.utils import unix_time
    from moto.dynamodb.models.utilities import DynamoJsonEncoder
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    class Encoder(DynamoJsonEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, datetime):  # epoch seconds to the millisecond, as moto's serializer sends them
                return math.floor(unix_time(o) * 1000) / 1000
            return super().default(o)

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit")
        _RAW.on = True  # the records as stored: their sizes are measured on the JSON written below
        try:
            answer = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        finally:
            _RAW.on = False
        records = ", ".join(_record_json(record, Encoder) for record in answer.pop("Records"))
        rest = json.dumps(answer, cls=Encoder)
        return '{"Records": [' + records + "]" + (", " + rest[1:] if len(rest) > 2 else "}")

    _patches.replace(DynamoDBStreamsHandler, "get_records", get_records)

    image = make_image()
    from infra.local_moto_items import new_image

    event_id, created_at = make_event_id(), make_created_at()

    def record_init(self: Any, table: Any, stream_type: str, event_name: str, old: Any, new: Any, seq: int) -> None:
        # moto's StreamRecord.__init__, with the images built by ``image``, and only those the stream's
        # view type sends (moto builds both: a NEW_IMAGE stream's update paid for an old image unsent)
        rec = old if old is not None else new
        keys = {table.hash_key_attr: rec.hash_key.to_json()}
        if table.range_key_attr is not None and rec is not None:
            keys[table.range_key_attr] = rec.range_key.to_json()
        self.record = {
            "eventID": event_id(),
            "eventName": event_name,
            "eventSource": "aws:dynamodb",
            "eventVersion": "1.0",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "StreamViewType": stream_type,
                "ApproximateCreationDateTime": created_at(),
                "SequenceNumber": str(seq),
                "SizeBytes": 1,
                "Keys": keys,
            },
        }
        if stream_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            fresh = new_image(new)
            self.record["dynamodb"]["NewImage"] = fresh if fresh is not None else image(new)
        if stream_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            self.record["dynamodb"]["OldImage"] = image(old)
        self.record["dynamodb"]["SizeBytes"] = None  # measured when first read (``measured_record``)

    def measured_record(self: Any) -> dict[str, Any]:
        record = self.__dict__["record"]
        if record["dynamodb"]["SizeBytes"] is None and not _RAW.on:
            record["dynamodb"]["SizeBytes"] = 1  # as moto measures it: with its placeholder in
            record["dynamodb"]["SizeBytes"] = len(tables.dynamo_json_dump(record["dynamodb"]))
        return record

    def store_record(self: Any, record: dict[str, Any]) -> None:
        self.__dict__["record"] = record  # also what the record holds once moto has its code back

    _patches.replace(tables.StreamRecord, "__init__", record_init)
    _patches.replace(tables.StreamRecord, "record", property(measured_record, store_record))


def make_event_id() -> Any:
    """moto's ``mock_random.uuid4().hex`` (a record's event id): the same 128 bits drawn from moto's
    generator, with the version and variant bits set as ``uuid.UUID(int=..., version=4)`` sets them,
    written as its ``hex`` is, without making the ``UUID`` object (a Python ``__init__``). A generator
    whose ``uuid4`` or ``getrandbits`` is not moto's own (a test's fixed id) is asked as moto asks it."""
    import random

    import moto.dynamodb.models.table as tables
    from moto.moto_api._internal.moto_random import MotoRandom

    own_bits = random.Random.getrandbits

    def event_id() -> str:
        generator = tables.mock_random
        if "uuid4" in vars(generator) or type(generator).uuid4 is not MotoRandom.uuid4:
            return generator.uuid4().hex
        if type(generator).getrandbits is not own_bits:
            return generator.uuid4().hex
        bits = generator.getrandbits(128)
        bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # the variant: RFC 4122
        bits = (bits & ~(0xF000 << 64)) | (4 << 76)  # the version: 4
        return f"{bits:032x}"

    return event_id


def make_created_at() -> Any:
    """moto's ``utcnow()`` (a record's creation time): ``datetime.now(UTC)`` without its time zone, as
    moto's function gives it, without the import that function makes per call; moto's module's
    ``utcnow`` when it is not moto's own (a test's fixed time)."""
    from datetime import UTC

    import moto.dynamodb.models.table as tables
    from moto.core.utils import utcnow

    now = datetime.now

    def created_at() -> datetime:
        if tables.utcnow is not utcnow:
            return tables.utcnow()
        return now(UTC).replace(tzinfo=None)

    return created_at


_RAW = threading.local()  # ``on`` while GetRecords reads records whose size it measures itself
_RAW.on = False
_SIZE_PLACEHOLDER = '"SizeBytes": 1, "Keys"'  # the first text of this form in a record's ``dynamodb``


def _record_json(record: dict[str, Any], encoder: type[json.JSONEncoder]) -> str:
    """One stream record as GetRecords sends it, with ``SizeBytes`` measured as moto measures it
    (``len(dynamo_json_dump(record["dynamodb"]))`` with a placeholder 1 in it) on the same JSON that
    is sent, instead of writing the images out once more per record at the write. The two JSON texts
    differ only in the creation time: moto's full epoch seconds there, milliseconds here.

    The creation time is converted once (moto's ``unix_time`` arithmetic from a kept epoch: moto
    builds the epoch anew per call, twice per record here before) and put in as the number that
    ``encoder`` writes for it, so the record is written by json's own encoder (``json.dumps``
    without an encoder class: no encoder object made per record); a record holding anything else
    that JSON cannot write as it is (bytes) is written by ``encoder``. Either way the same text."""
    dynamodb = record["dynamodb"]
    if dynamodb["SizeBytes"] is not None:
        return json.dumps(record, cls=encoder)
    dynamodb["SizeBytes"] = 1
    created = dynamodb["ApproximateCreationDateTime"]
    seconds = _unix_time(created) if type(created) is datetime else None
    try:
        if seconds is None:
            raise TypeError("not a datetime")
        sent_time = math.floor(seconds * 1000) / 1000  # the encoder's number for the time
        sent = json.dumps({**dynamodb, "ApproximateCreationDateTime": sent_time})
        head = json.dumps({key: value for key, value in record.items() if key != "dynamodb"})
    except TypeError:  # a value JSON cannot write as it is: the encoder's way
        sent = json.dumps(dynamodb, cls=encoder)
        head = json.dumps({key: value for key, value in record.items() if key != "dynamodb"}, cls=encoder)
        seconds = _unix_time(created)
        sent_time = encoder().default(created)
    size = len(sent) - len(json.dumps(sent_time)) + len(json.dumps(seconds))
    dynamodb["SizeBytes"] = size
    body = sent.replace(_SIZE_PLACEHOLDER, f'"SizeBytes": {size}, "Keys"', 1)
    return head[:-1] + ', "dynamodb": ' + body + "}"


_EPOCH = datetime(1970, 1, 1)  # moto's ``utcfromtimestamp(0)``


def _unix_time(moment: datetime) -> float:
    """moto's ``unix_time(moment)``: the same arithmetic, from a kept epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86400) + (delta.seconds + (delta.microseconds / 1e6))


def uninstall() -> None:
    """Give moto its own code back."""
    _patches.restore()

"""Shared Query helpers: resuming from a caller-supplied key safely, collecting filtered pages, and
recognising failed conditions.

A start key comes back from a client (inside the API's signed token), so it is checked to lie in the
caller's own partition and key range before it reaches DynamoDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from pynamodb.exceptions import PynamoDBException

from audience.errors import BadRequest
from audience.storage.records import Page

T = TypeVar("T")
MAX_LIMIT = 500


def check_start_key(
    start_key: dict[str, Any] | None, pk: str, sk_prefix: str = "", *, pk_name: str = "pk"
) -> dict[str, Any] | None:
    """The key as DynamoDB wants it, or BadRequest when it is not a key of this partition/range."""
    if start_key is None:
        return None
    if (
        not isinstance(start_key, dict)
        or start_key.get(pk_name) != pk
        or not isinstance(start_key.get("sk"), str)
        or not start_key["sk"].startswith(sk_prefix)
        or not all(isinstance(v, str) for v in start_key.values())
    ):
        raise BadRequest("next_token does not belong to this listing")
    return {name: {"S": value} for name, value in start_key.items()}


def plain_key(raw: dict[str, Any]) -> dict[str, str]:
    return {name: value["S"] for name, value in raw.items()}


def collect(
    items: Iterable[T],
    limit: int,
    key_of: Callable[[T], dict[str, str]],
    keep: Callable[[T], bool] = lambda _: True,
    convert: Callable[[T], Any] = lambda item: item,
) -> Page:
    """Up to ``limit`` kept items; ``next_key`` is the last one's key when more kept items follow."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    kept: list[Any] = []
    last_key: dict[str, str] | None = None
    iterator: Iterator[T] = iter(items)
    for item in iterator:
        if not keep(item):
            continue
        if len(kept) == limit:
            return Page(items=kept, next_key=last_key)
        kept.append(convert(item))
        last_key = key_of(item)
    return Page(items=kept, next_key=None)


def condition_failed(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def chunks(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` (the last shorter), taken lazily: a generator is consumed a chunk at a time."""
    items = iter(values)
    while chunk := list(islice(items, size)):
        yield chunk

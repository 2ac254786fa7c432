"""A key space's directory stays a bounded number of parts however many builds give it keys: big
runs of keys are cut into parts (naming a few keys reads a few), small trailing parts are merged,
and a reader that listed the parts before a merge still names every key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyarrow as pa
import pytest
from audience.evaluation import key_directory


@dataclass
class Directory:
    """One test's key space (the evaluation tests share a module's moto, so each gets its own)."""

    s3: object
    bucket: str
    space: str = ""
    tenant: str = "t1"

    def give(self, count: int, start: int, name: str = "c") -> list[str]:
        """Record ``count`` new keys from ``start`` as one build gives them; the ids they name."""
        ids = [f"{self.space}-{name}{key}" for key in range(start, start + count)]
        key_directory.record(self.tenant, self.space, start, pa.array(ids), self.s3, self.bucket)
        return ids

    def parts(self) -> list[int]:
        return key_directory._parts(self.tenant, self.space, self.s3, self.bucket)  # noqa: SLF001

    def ids_of(self, keys: list[int]) -> list[str]:
        return key_directory.ids_of(self.tenant, self.space, keys, self.s3, self.bucket).to_pylist()


@pytest.fixture
def directory(aws, s3, monkeypatch) -> Directory:
    monkeypatch.setattr(key_directory, "PART_KEYS", 8)
    monkeypatch.setattr(key_directory, "SMALL_KEYS", 4)
    monkeypatch.setattr(key_directory, "MERGE_AT", 3)
    return Directory(s3, aws.env()["DATA_BUCKET"], space=f"ks-{uuid.uuid4().hex[:12]}")


def test_many_small_builds_leave_few_parts_and_every_key_named(directory):
    named: list[str] = []
    for _ in range(40):  # forty incremental builds of two new keys each
        named += directory.give(2, len(named))
    assert len(directory.parts()) <= 80 // 4 + 3  # not forty
    assert directory.ids_of(list(range(len(named)))) == named


def test_a_big_run_of_keys_is_cut_into_parts_of_part_keys(directory):
    named = directory.give(20, 0)
    assert directory.parts() == [0, 8, 16]
    assert directory.ids_of([19, 3, 8]) == [named[19], named[3], named[8]]


def test_a_merge_keeps_the_parts_it_does_not_reach(directory):
    big = directory.give(8, 0)  # a full part: never merged
    small = directory.give(1, 8) + directory.give(1, 9) + directory.give(1, 10)
    assert directory.parts() == [0, 8]  # the three small ones merged into the part from key 8
    assert directory.ids_of(list(range(11))) == big + small


def test_a_reader_that_listed_the_parts_before_a_merge_still_names_every_key(directory, monkeypatch):
    named = directory.give(1, 0) + directory.give(1, 1)
    before = directory.parts()
    assert before == [0, 1]
    named += directory.give(1, 2)  # the third small part: merged into the part from key 0, 1 and 2 deleted
    assert directory.parts() == [0]
    listings = iter([before])  # the lookup's first listing is from before the merge
    real = key_directory._parts  # noqa: SLF001
    monkeypatch.setattr(key_directory, "_parts", lambda *a: next(listings, None) or real(*a))
    assert directory.ids_of([1, 2, 0]) == [named[1], named[2], named[0]]


def test_the_retry_of_a_build_that_died_names_its_own_ids_after_a_merge(directory):
    directory.give(3, 0, name="dead")  # a build that died after writing its part: its keys were never given
    named = directory.give(1, 0) + directory.give(1, 1) + directory.give(1, 2)  # the retry, then later builds
    assert directory.parts() == [0]
    assert directory.ids_of([0, 1, 2]) == named

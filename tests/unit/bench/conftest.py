"""A small generated dataset shared by the tests that hold the benchmark's peers to the engine's members."""

from __future__ import annotations

import pytest

from bench import datagen


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    # Small chunks so several chunks (and row groups) are exercised; many events per contact so
    # aggregates over several events (sum, avg, count >= 2) select someone. Keyed, as the benchmark
    # writes them: contact keys in the contacts file (the peers ignore them), events sorted by contact.
    return datagen.generate(6_000, tmp_path_factory.mktemp("bench-data"), events_per_contact=3.0, chunk=2_500,
                            keyed=True)

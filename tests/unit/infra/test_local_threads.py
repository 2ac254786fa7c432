"""The local processes' switch interval comes from LOCAL_SWITCH_INTERVAL_MS, else the default."""

from __future__ import annotations

import sys

import pytest

from infra import local_threads


@pytest.fixture
def restored_interval():
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_environment_sets_the_interval_in_milliseconds(monkeypatch, restored_interval):
    monkeypatch.setenv("LOCAL_SWITCH_INTERVAL_MS", "0.5")
    assert local_threads.quicken_handoffs() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_zero_or_empty_keeps_the_interval_in_force(monkeypatch, restored_interval):
    sys.setswitchinterval(0.004)
    for value in ("0", ""):
        monkeypatch.setenv("LOCAL_SWITCH_INTERVAL_MS", value)
        assert local_threads.quicken_handoffs() == pytest.approx(0.004)

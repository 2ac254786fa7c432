"""The importer function's AWS clients: made once per environment and settings, not per record."""

from __future__ import annotations

from audience.settings import get_settings


def test_records_share_the_environments_clients_until_the_settings_change():
    from functions.importer import app

    first = app.services()
    assert app.services() is first  # the next chunk's record: no three new boto3 clients
    get_settings.cache_clear()
    try:
        again = app.services()
        assert again is not first and again.settings is get_settings()
    finally:
        get_settings.cache_clear()

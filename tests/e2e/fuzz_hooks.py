"""schemathesis hooks of ``make fuzz``: values for the document's custom formats.

The OpenAPI document marks every string that must name something of the caller's tenant with a
custom ``format`` (``audience.json_types.TENANT_NAME_FORMATS``: ``segment-id``, ``contact-id``,
``field-name``, ``category-name``). No schema can list a tenant's names, so without these hooks
schemathesis draws random text there and nearly every such request meets the 422 (or 404) that an
unknown name deserves. ``tests/e2e/fuzz.py`` seeds the fuzz tenant (``seed_tenant``), writes the
names it has to a JSON file and points ``FUZZ_TENANT_NAMES`` at it; this module, loaded by
schemathesis through ``SCHEMATHESIS_HOOKS``, registers a strategy per format that draws from them.
An instant (``date-or-date-time``) is drawn as an RFC 3339 date or date-time.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import schemathesis
from audience.json_types import DATE_OR_DATE_TIME
from hypothesis import strategies as st

NAMES_ENV = "FUZZ_TENANT_NAMES"


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# A few offsets, and local times a day inside years 1-9999, so that UTC can hold every one (the
# service refuses those it cannot: tests/integration/api/test_instants_out_of_range.py).
_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])
DATES_OR_DATE_TIMES = st.one_of(
    st.dates().map(date.isoformat),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS).map(_rfc3339),
)


def register(names: dict[str, list[str]]) -> None:
    """One strategy per format: any of the tenant's names of that kind."""
    for kind, values in names.items():
        if values:
            schemathesis.openapi.format(kind, st.sampled_from(sorted(values)))


schemathesis.openapi.format(DATE_OR_DATE_TIME, DATES_OR_DATE_TIMES)
if os.environ.get(NAMES_ENV):
    register(json.loads(Path(os.environ[NAMES_ENV]).read_text()))

"""schemathesis hooks of ``make fuzz``: values for the document's tenant-name formats.

The OpenAPI document marks every string that must name something of the caller's tenant with a
custom ``format`` (``audience.json_types.TENANT_NAME_FORMATS``: ``segment-id``, ``contact-id``,
``field-name``, ``category-name``). No schema can list a tenant's names, so without these hooks
schemathesis draws random text there and nearly every such request meets the 422 (or 404) that an
unknown name deserves. ``tests/e2e/fuzz.py`` seeds the fuzz tenant (``seed_tenant``), writes the
names it has to a JSON file and points ``FUZZ_TENANT_NAMES`` at it; this module, loaded by
schemathesis through ``SCHEMATHESIS_HOOKS``, registers a strategy per format that draws from them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import schemathesis
from hypothesis import strategies as st

NAMES_ENV = "FUZZ_TENANT_NAMES"


def register(names: dict[str, list[str]]) -> None:
    """One strategy per format: any of the tenant's names of that kind."""
    for kind, values in names.items():
        if values:
            schemathesis.openapi.format(kind, st.sampled_from(sorted(values)))


if os.environ.get(NAMES_ENV):
    register(json.loads(Path(os.environ[NAMES_ENV]).read_text()))

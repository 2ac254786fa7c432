"""The API must not import pyarrow: the import/events routes and the modules they use stay light."""

from __future__ import annotations

import subprocess
import sys


def test_import_and_event_routes_do_not_load_pyarrow():
    code = (
        "import sys\n"
        "import audience.imports.jobs, audience.imports.mapping, audience.imports.events\n"
        "import audience.imports.readers, audience.imports.identity, audience.imports.coercion\n"
        "import functions.api.routers.imports, functions.api.routers.events\n"
        "assert 'pyarrow' not in sys.modules, sorted(m for m in sys.modules if m.startswith('pyarrow'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": "layers/audience:.", "PATH": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr

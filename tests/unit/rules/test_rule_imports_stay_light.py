"""The API and authorizer validate and evaluate rules without loading pyarrow (cold starts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_rules_package_model_refs_record_and_schema_never_import_pyarrow():
    code = (
        "import sys\n"
        "import audience.rules, audience.rules.model, audience.rules.refs, audience.rules.record\n"
        "import audience.rules.schema, audience.rules.text, audience.rules.operators\n"
        "from audience.fields import DEFAULT_CATALOG\n"
        "from datetime import datetime, timezone\n"
        "rule = audience.rules.parse_rule({'field': 'email', 'op': 'matches', 'value': '(?i)x'}, DEFAULT_CATALOG)\n"
        "audience.rules.evaluate_record(rule, {'email': 'X'}, as_of=datetime.now(timezone.utc),"
        " catalog=DEFAULT_CATALOG)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'numpy', 'pandas')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'audience'}", "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "[]"

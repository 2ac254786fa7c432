"""Write the API's OpenAPI document (the one ``GET /openapi.json`` serves) to a file.

    python -m functions.api.openapi_dump shared/openapi.json

``shared/openapi.json`` is the language-neutral contract for clients; a test fails when it no longer
matches the code, so regenerate it with this command (or ``make schemas``) after changing a route.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def document() -> dict:
    from functions.api.app import app, openapi_settings

    return json.loads(app.get_openapi_json_schema(**openapi_settings()))


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    target = Path(argv[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

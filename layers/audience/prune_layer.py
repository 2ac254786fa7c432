"""Remove from the built layer what no function ever loads, so it fits Lambda's 250 MB (unzipped).

pyarrow 26 + numpy 2.4 + phonenumbers as installed come to ~304 MB; a Lambda layer plus function
code may unzip to 250 MB. What goes is never imported by the service: C++ headers, Cython sources,
test suites, Arrow Flight (RPC; ``libarrow.so`` and ``lib`` do not link it), the link-time copies of
``libarrow_python*`` (the loader uses the ``.so.<abi>`` name), bytecode caches, and phonenumbers'
geocoding, carrier and time-zone data (``phonenumbers.geocoder``/``carrier``/``timezone``; the
service only parses, validates and formats). Run by the layer's ``build-AudienceLayer`` target;
``bench/coldstart.py`` applies ``pruned`` to size the layer. Standard library only.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path, PurePosixPath

_PRUNED_DIRS = {
    ("pyarrow", "include"), ("pyarrow", "includes"), ("pyarrow", "src"), ("pyarrow", "tests"),
    ("phonenumbers", "geodata"), ("phonenumbers", "carrierdata"), ("phonenumbers", "tzdata"),
}
_PYARROW_FILES = re.compile(
    r".*\.(pyx|pxd|pxi|h)$|.*flight.*|_pyarrow_cpp_tests.*|conftest\.py$"
    r"|libarrow_python(_parquet_encryption)?\.so(\.\d+\.\d+\.\d+)?$"
)


def pruned(relative: PurePosixPath) -> bool:
    """Whether a file at ``relative`` (to the layer's ``python/`` folder) is left out of the layer."""
    parts = relative.parts
    if "__pycache__" in parts or relative.suffix == ".pyc":
        return True
    if len(parts) > 1 and (parts[0], parts[1]) in _PRUNED_DIRS:
        return True
    if parts[0] == "numpy" and "tests" in parts:
        return True
    return parts[0] == "pyarrow" and len(parts) == 2 and bool(_PYARROW_FILES.fullmatch(parts[1]))


def prune(folder: Path) -> int:
    """Delete the pruned files under ``folder`` (the layer's ``python/``); returns bytes freed."""
    freed = 0
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and not path.is_symlink() and pruned(PurePosixPath(path.relative_to(folder).as_posix())):
            freed += path.stat().st_size
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            shutil.rmtree(path)
    return freed


if __name__ == "__main__":
    target = Path(sys.argv[1])
    print(f"pruned {prune(target) / 2**20:.1f} MB from {target}")

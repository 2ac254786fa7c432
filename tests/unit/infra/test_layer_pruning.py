"""The layer's build prunes what no function loads (layers/audience/prune_layer.py): what is left
must still do everything the service asks of pyarrow, numpy and phonenumbers, and fit Lambda's
250 MB unzipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path, PurePosixPath

from bench.coldstart import LAMBDA_UNZIPPED_LIMIT_MB, _layer_pruning, layer_size

SITE = Path(sysconfig.get_paths()["purelib"])
HEAVY = ("pyarrow", "numpy", "numpy.libs", "phonenumbers")

EXERCISE = """
import os
import sys
import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

root = sys.argv[1]
assert all(m.__file__.startswith(root) for m in (np, phonenumbers, pa, pc, ds, pq)), "not the pruned copy"
maps = pa.array([{"k": "v"}, None, {}], pa.map_(pa.string(), pa.string()))
table = pa.table({"id": ["a", "b", "c"], "n": [1, 2, 3], "m": maps})
pq.write_table(table, root + "/t.parquet", row_group_size=2)
back = ds.dataset(root + "/t.parquet").to_table(filter=pc.field("n") >= 2, columns=["id", "m"])
assert back.column("id").to_pylist() == ["b", "c"]
assert pq.ParquetFile(root + "/t.parquet").read_row_group(0, columns=["id"]).num_rows == 2
assert pc.sum(pc.multiply(table["n"], 2)).as_py() == 12
assert csv.read_csv(pa.py_buffer(b"a,b\\n1,x\\n")).num_rows == 1
assert np.bincount(np.array([0, 1, 1])).tolist() == [1, 2]
number = phonenumbers.parse("+1 415 555 2671", None)
assert phonenumbers.is_valid_number(number)
assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+14155552671"
print("ok", flush=True)
# Leave without interpreter teardown: Arrow's thread pools sometimes abort at exit ("terminate called
# without an active exception") under load, after the work above has passed; that is not the pruning.
os._exit(0)
"""


def test_the_pruned_layer_still_reads_writes_and_computes(tmp_path):
    pruned = _layer_pruning().pruned

    def ignore(folder: str, names: list[str]) -> list[str]:
        relative = Path(folder).relative_to(SITE)
        return [n for n in names if not (Path(folder) / n).is_dir() and pruned(PurePosixPath(relative.as_posix(), n))]

    for name in HEAVY:
        shutil.copytree(SITE / name, tmp_path / name, ignore=ignore)
    assert not (tmp_path / "pyarrow" / "libarrow_flight.so.2600").exists()
    assert not any((tmp_path / "phonenumbers" / "geodata").rglob("*.py"))
    code = "import sys; sys.path.insert(0, sys.argv[1]);" + EXERCISE
    command = [sys.executable, "-S", "-c", code, str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_layer_fits_lambdas_unzipped_limit_with_room_for_function_code():
    size = layer_size()
    assert size["layer_mb"] < LAMBDA_UNZIPPED_LIMIT_MB - 20, size
    assert size["distributions"]["phonenumbers"] < 5  # geocoding data left out


def test_pruning_keeps_the_libraries_the_loader_needs():
    pruned = _layer_pruning().pruned
    for kept in ("pyarrow/libarrow.so.2600", "pyarrow/libarrow_python.so.2600", "pyarrow/libarrow_substrait.so.2600",
                 "pyarrow/lib.cpython-311-x86_64-linux-gnu.so", "pyarrow/parquet/core.py", "numpy/_core/numeric.py",
                 "phonenumbers/data/region_US.py", "phonenumbers/shortdata/region_US.py", "audience/rules/engine.py"):
        assert not pruned(PurePosixPath(kept)), kept
    for gone in ("pyarrow/libarrow_flight.so.2600", "pyarrow/flight.py", "pyarrow/include/arrow/api.h",
                 "pyarrow/libarrow_python.so", "pyarrow/lib.pyx", "numpy/_core/tests/test_api.py",
                 "phonenumbers/geodata/data0.py", "audience/__pycache__/x.cpython-311.pyc"):
        assert pruned(PurePosixPath(gone)), gone

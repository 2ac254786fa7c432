"""How often the local stack's processes hand the interpreter lock from one thread to another.

Both local processes mix threads that wait on sockets with threads that compute: the stack's
writer threads wait on moto while a chunk is planned or a stream batch decoded; moto's request
threads parse while others wait to send. A thread whose answer has arrived needs the lock back,
and CPython hands it over only when the computing thread has held it for the switch interval
(5 ms by default): every round trip can wait that long, while the other process has nothing to do.
A shorter interval hands the lock over sooner, at the cost of more switches.

``LOCAL_SWITCH_INTERVAL_MS`` sets it (``0`` or empty: CPython's default); the local stack only —
in Lambda each invocation runs alone in its process.
"""

from __future__ import annotations

import os
import sys

DEFAULT_SWITCH_INTERVAL_MS = ""  # CPython's 5 ms unless the environment says otherwise


def quicken_handoffs() -> float:
    """Set this process's switch interval from ``LOCAL_SWITCH_INTERVAL_MS``; the interval in force."""
    wanted = os.environ.get("LOCAL_SWITCH_INTERVAL_MS", DEFAULT_SWITCH_INTERVAL_MS).strip()
    if wanted and float(wanted) > 0:
        sys.setswitchinterval(float(wanted) / 1000)
    return sys.getswitchinterval()

"""Killing a bench appliance at a moment chosen by its progress, not by the wall clock.

The crash tests run ``roadcam run`` with the bench plugin tests/evidence_plugin.py, which prints
``committed <seq> <digest>`` (flushed) for each event it stores. :func:`kill_when` reads those
lines as they come and SIGKILLs the appliance once a condition on them (and on whatever else the
test watches) holds, so every kill lands in the middle of the appliance's work however fast or
slow the machine is: a loaded machine only makes the test take longer.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import time
from collections.abc import Callable

#: A condition that never holds within this long means the appliance is stuck or broken.
TIMEOUT_S = 180.0
#: After the condition holds, the kill waits up to this long more (seeded), so that it lands
#: anywhere in the frame being stored rather than just after a commit was printed.
JITTER_S = 0.05


def kill_when(command: list[str], env: dict[str, str], ready: Callable[[dict[int, str]], bool],
              rng: random.Random) -> dict[int, str]:
    """Start ``command``, SIGKILL it once ``ready(committed so far)`` holds, and return what it
    reported committed (seq -> digest), including lines it printed up to the kill. Fails if the
    appliance ends on its own, or ``ready`` does not hold within :data:`TIMEOUT_S`."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    committed: dict[int, str] = {}
    pending = b""

    def take(chunk: bytes) -> None:
        nonlocal pending
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            words = line.decode().split()
            if words[:1] == ["committed"]:
                committed[int(words[1])] = words[2]

    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ready(committed):
            if time.monotonic() > deadline:
                raise AssertionError(f"no kill moment within {TIMEOUT_S:g} s ({len(committed)} events committed)")
            readable, _, _ = select.select([process.stdout], [], [], 0.05)
            if readable:
                chunk = os.read(process.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise AssertionError(f"the appliance ended (exit {process.wait()}) before it was killed, "
                                         f"after {len(committed)} commits")
                take(chunk)
        time.sleep(rng.uniform(0.0, JITTER_S))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        rest = process.stdout.read()
        process.stdout.close()
    take(rest)
    return committed

"""Self-diagnostics: faults for everything that would leave a site blind or unable to report, so
the twice-daily fault list shows every site that needs a visit before anyone needs its footage.

- ``camera.py``: a camera that sends no frames (caught on the core's tick, within
  ``no_frames_after_s`` + 1 s) or too few, a frozen, black, washed-out, blurred, moved or blocked
  image, and a night image too dark for a working IR illuminator;
- ``lamps.py``: signal heads showing red and green together, left dark, or with a lamp that
  misses a whole cycle (loop faults are the speed plugin's: ``loop.stuck_on`` and friends);
- ``system.py``: disk, store budget, outbox backlog, temperature and throttling, memory, clock
  sync, evidence files (the broker link's ``uplink.offline`` is the uplink's own).

Every check has a threshold, hysteresis (``hysteresis.py``) and a message for the technician;
the box's figures go into every health event.
"""

from .plugin import plugin

__all__ = ["plugin"]

"""Child process of the kill test (tests/test_store_kill.py): appends events to a store forever.

Usage: ``python tests/store_writer.py DATABASE EVIDENCE_DIR SEED``

Each append carries one to three events with zero to two evidence blobs of random size, some of
them drawn from a small shared set so the same file is referenced by many events. After each
``append()`` returns, one line goes to stdout with the events just committed, as stored JSON;
stdout is line-buffered, so a line the parent can read completely was committed before it was
written. The parent SIGKILLs this process at random moments.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from roadcam.appliance.events import ClockState, EventDraft
from roadcam.appliance.store import EventStore
from roadcam.protocol.events import EvidenceBlob

_SHARED_BLOBS = 4
_MAX_BLOB_BYTES = 32_000
_CLOCK = ClockState(synced=True, error_ms=1.0)
_START_NS = 1_790_000_000_000_000_000


def _drafts(rng: random.Random, shared: list[EvidenceBlob], index: int) -> list[EventDraft]:
    drafts = []
    for _ in range(rng.randint(1, 3)):
        blobs = []
        for _ in range(rng.randint(0, 2)):
            if rng.random() < 0.3:
                blobs.append(rng.choice(shared))
            else:
                blobs.append(EvidenceBlob("frame", rng.randbytes(rng.randint(1, _MAX_BLOB_BYTES))))
        drafts.append(EventDraft(type="plate.read", data={"index": index, "nonce": rng.random()},
                                 time_ns=_START_NS + index * 1_000_000, evidence=tuple(blobs)))
        index += 1
    return drafts


def main(database: Path, evidence_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    shared_rng = random.Random(0)  # the same shared blobs in every run, so they deduplicate
    shared = [EvidenceBlob("plate_crop",
                           shared_rng.randbytes(shared_rng.randint(1, _MAX_BLOB_BYTES)))
              for _ in range(_SHARED_BLOBS)]
    sys.stdout.reconfigure(line_buffering=True)
    with EventStore(database, evidence_dir, device="tn-kill", site="tn-test",
                    budget_bytes=1 << 40) as store:
        index = store.last_seq() + 1
        while True:
            events = store.append(_drafts(rng, shared, index), _CLOCK)
            index += len(events)
            print(json.dumps([event.model_dump() for event in events]))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))

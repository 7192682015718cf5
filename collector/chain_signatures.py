"""Authenticate a device's events with as few Ed25519 checks as the hash chain allows.

Verifying a signature costs about 130 µs; hashing an event costs about 1 µs. A device chains its
events: ``prev`` of event N is the sha256 of event N-1's canonical JSON, and that JSON includes
N-1's own ``prev``. So once event N's signature verifies, its content is the device's, including
``prev``; any event whose digest equals that ``prev`` is therefore the device's too (finding
another with the same digest would break sha256), and so on down the chain. Within one batch the
collector checks the signature of the newest event of each chain segment only and takes the
older events of the segment on their digest.

The rule is applied event by event, newest first, so it never needs the segment to be whole: an
event is authentic when its digest is the ``prev`` of an event of the same device already found
authentic in this batch, or else when its own signature verifies. A tampered event then costs
its own check (and fails), and the event before it is checked on its own signature, so one bad
event never takes its good neighbours with it. What is vouched for is decided inside one batch,
and the batch is stored (or not) in one transaction, so nothing is stored on the word of an
event that is not stored with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar


class ChainedEvent(Protocol):
    """What the rule needs of an event: its seq, its link and its own digest."""

    @property
    def seq(self) -> int: ...

    @property
    def prev(self) -> str | None: ...

    @property
    def digest(self) -> str: ...


Chained = TypeVar("Chained", bound=ChainedEvent)


def authentic_events(events: Sequence[Chained],
                     signature_verifies: Callable[[Chained], bool]) -> list[Chained]:
    """The events of ONE device key (any order, duplicates allowed) that are authentic, newest
    first; ``signature_verifies`` is called only for events no authentic event vouches for."""
    vouched_digests: set[str] = set()
    authentic = []
    for event in sorted(events, key=lambda candidate: candidate.seq, reverse=True):
        if event.digest in vouched_digests or signature_verifies(event):
            authentic.append(event)
            if event.prev is not None:
                vouched_digests.add(event.prev)
    return authentic

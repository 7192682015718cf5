"""How alike two plate reads are: the one rule the device's hotlist and the collector's section
matching share, so that a plate both would call the same vehicle is the same at both ends.

A plate reader confuses some characters with each other (0/O/D/Q, 1/I/L/T, 8/B, 5/S, 2/Z,
6/G): :func:`plate_distance` is an edit distance in which a substitution inside one such group
costs :data:`CONFUSION_COST` and any other edit 1. :func:`confusion_key` maps every character
to its group's first one, so reads that differ only by confusions share a key: a hash lookup
instead of a distance to every plate held.
"""

from __future__ import annotations

#: Characters a reader confuses with each other.
CONFUSABLE_GROUPS = ("0ODQ", "1ILT", "8B", "5S", "2Z", "6G")
#: Cost of replacing a character by one of its own confusion group.
CONFUSION_COST = 0.25

_CANONICAL = str.maketrans({char: group[0] for group in CONFUSABLE_GROUPS for char in group[1:]})


def plate_distance(a: str, b: str) -> float:
    """Edit distance where swapping confusable characters costs CONFUSION_COST."""
    previous = [float(j) for j in range(len(b) + 1)]
    for i, char_a in enumerate(a, 1):
        current = [float(i)]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + _substitution(char_a, char_b)))
        previous = current
    return previous[-1]


def confusion_key(plate: str) -> str:
    """``plate`` with every confusable character replaced by its group's first: two reads share
    a key exactly when one becomes the other by confusions alone."""
    return plate.translate(_CANONICAL)


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSION_COST if any(a in group and b in group for group in CONFUSABLE_GROUPS) else 1.0

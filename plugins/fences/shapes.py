"""Plane geometry of fences in normalised image coordinates (x, y in 0-1, y down).

Pure functions with no state: which side of a directed line a point is on, where a moving
point crossed a segment, whether a point is inside a polygon, whether a polygon's edges cross.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def side(a: Point, b: Point, q: Point) -> float:
    """Cross product (b - a) x (q - a): positive on one side of the line a->b, negative on the
    other, 0 on it. With y pointing down, positive is below a line drawn left to right."""
    return (b[0] - a[0]) * (q[1] - a[1]) - (b[1] - a[1]) * (q[0] - a[0])


def crossing(a: Point, b: Point, p: Point, q: Point) -> float | None:
    """Where the move p->q crosses the segment a-b forwards (from the positive side to the
    negative one, see :func:`side`): the fraction 0-1 of the move at the crossing, else None."""
    s0, s1 = side(a, b, p), side(a, b, q)
    if not (s0 > 0 >= s1):
        return None
    t = s0 / (s0 - s1)
    x, y = p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])
    dx, dy = b[0] - a[0], b[1] - a[1]
    along = ((x - a[0]) * dx + (y - a[1]) * dy) / (dx * dx + dy * dy)
    return t if 0.0 <= along <= 1.0 else None


def contains(polygon: Sequence[Point], q: Point) -> bool:
    """Even-odd rule: is ``q`` inside the polygon (corners in order, closed implicitly)?"""
    inside = False
    x, y = q
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _segments_cross(p1: Point, p2: Point, p3: Point, p4: Point) -> bool:
    """True when the closed segments p1-p2 and p3-p4 touch or cross."""
    d1, d2 = side(p3, p4, p1), side(p3, p4, p2)
    d3, d4 = side(p1, p2, p3), side(p1, p2, p4)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return on(p3, p4, p1, d1) or on(p3, p4, p2, d2) or on(p1, p2, p3, d3) or on(p1, p2, p4, d4)


def self_intersection(polygon: Sequence[Point]) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (by index: edge i joins corner i to i+1) that
    touch or cross, else None. Also catches repeated corners (a zero-length edge)."""
    n = len(polygon)
    edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]
    for i, (a, b) in enumerate(edges):
        if a == b:
            return (i, i)
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # the first and the last edge share corner 0
            if _segments_cross(a, b, *edges[j]):
                return (i, j)
    return None


def area(polygon: Sequence[Point]) -> float:
    """Unsigned area (shoelace)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]]):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2

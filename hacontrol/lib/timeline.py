"""Turn a member's state changes into bars for a 24-hour timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise


@dataclass
class Segment:
    state: str
    start: datetime
    end: datetime
    x: float  # 0-1000, the SVG's viewBox width
    width: float


def segments(current: str, changes: list[tuple[datetime, str, str]], start: datetime, end: datetime) -> list[Segment]:
    """Bars from ``start`` to ``end``. ``changes`` are (when, from, to) in time order, within
    the window; before the first change the member was in that change's 'from' state."""
    span = (end - start).total_seconds()
    state = changes[0][1] if changes else current
    moments = [start] + [when for when, _, _ in changes] + [end]
    states = [state] + [to for _, _, to in changes]
    bars = []
    for (begin, finish), state in zip(pairwise(moments), states, strict=True):
        x = 1000 * (begin - start).total_seconds() / span
        width = 1000 * (finish - begin).total_seconds() / span
        if width > 0:
            bars.append(Segment(state, begin, finish, round(x, 2), round(width, 2)))
    return bars

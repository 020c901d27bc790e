"""Inline SVG charts for the run history's page (smoke.history): a time axis, response times against their
budget, and a bar of each run's state. Plain numbers in, coordinates and labels out; history.html.jinja
(smoke/report/templates) draws them.

Every chart is 400 units wide (the page scales it to the card: one column on a phone), and shares its
horizontal layout with the bar below it, so that a slow stretch and the red runs line up. A chart never has
more points than it has units across: the runs that fall on one unit keep the slowest time, the bar the
worst state, so that 2000 runs stay a page of a few hundred KB.

>>> axis = TimeAxis(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
>>> [label for _, label in axis.ticks()]
['10:00', '12:00', '14:00']
>>> chart = response_chart(axis, {"GET /health/live": [(axis.start, 0.8), (axis.end, 2.5)]}, budget=2.0)
>>> [label for _, label in chart.y_ticks], chart.budget_label
(['0', '1 s', '2 s', '3 s'], 'budget 2 s')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

WIDTH = 400
LEFT, RIGHT = 44.0, 392.0  # the plot's edges; the y axis's labels sit left of it
TOP, BOTTOM = 8.0, 112.0  # the plot's top and its time axis; the chart is HEIGHT high
HEIGHT = 120
BAR_UNIT = 2.0  # runs closer than this share one stretch of the state bar
TICK_STEPS = [timedelta(minutes=m) for m in (5, 15, 30, 60, 120, 180, 360, 720)] + \
    [timedelta(days=d) for d in (1, 2, 7)]
MAX_TICKS = 6  # a tick label is about 36 units wide: six fit a phone
SECOND_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120)
SEVERITY = {"fail": 3, "warn": 2, "ok": 1, "none": 0}  # the worst state of the runs in a stretch wins


@dataclass(frozen=True)
class TimeAxis:
    """From the first run to the last, in the time zone the runs were written in."""

    start: datetime
    end: datetime

    @classmethod
    def over(cls, times: list[datetime]) -> TimeAxis:
        end = max(times)  # a few runs close together: the ten minutes up to the last
        return cls(min(*times, end - timedelta(minutes=10)), end)

    @cached_property
    def _origin_and_scale(self) -> tuple[float, float]:
        return self.start.timestamp(), (RIGHT - LEFT) / (self.end - self.start).total_seconds()

    def x(self, when: datetime) -> float:
        origin, scale = self._origin_and_scale
        return round(LEFT + (when.timestamp() - origin) * scale, 1)

    def ticks(self) -> list[tuple[float, str]]:
        """(x, label) at round times: hours, or days for a week."""
        span = self.end - self.start
        step = next((step for step in TICK_STEPS if span / step < MAX_TICKS), TICK_STEPS[-1])
        zone = self.end.tzinfo or UTC
        first = self.start.astimezone(zone)
        if step >= timedelta(days=1):
            tick = first.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        else:
            midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
            tick = midnight + step * math.ceil((first - midnight) / step)
        ticks = []
        while tick <= self.end:
            daily = step >= timedelta(days=1) or (tick.hour == 0 and tick.minute == 0)
            ticks.append((self.x(tick), f"{tick:%a} {tick.day}" if daily else f"{tick:%H:%M}"))
            tick += step
        return ticks


@dataclass
class Chart:
    lines: list[tuple[str, str]]  # (series name, SVG path)
    y_ticks: list[tuple[float, str]]  # (y, label)
    budget_y: float | None = None
    budget_label: str = ""
    x_ticks: list[float] = field(default_factory=list)


def response_chart(axis: TimeAxis, series: dict[str, list[tuple[datetime, float | None]]],
                   budget: float | None) -> Chart:
    """Each series a line of its runs' times (None: the run got no time, the line breaks there), the budget a
    dashed line across, the y axis from 0 to a round number above both."""
    values = [value for points in series.values() for _, value in points if value is not None]
    top, step = _scale(max([*values, budget or 0.0, 0.001]))

    def y(value: float) -> float:
        return round(BOTTOM - value / top * (BOTTOM - TOP), 1)

    lines = [(name, _path([None if value is None else (axis.x(when), y(value)) for when, value in points]))
             for name, points in series.items()]
    ticks = [(y(step * number), _seconds(step * number)) for number in range(round(top / step) + 1)]
    chart = Chart(lines, ticks, x_ticks=[x for x, _ in axis.ticks()])
    if budget is not None:
        chart.budget_y, chart.budget_label = y(budget), f"budget {_seconds(budget)}"
    return chart


def _scale(highest: float) -> tuple[float, float]:
    """(top, step): the top a round number above ``highest``, in at most four steps."""
    step = next((step for step in SECOND_STEPS if highest * 1.05 / step <= 4), SECOND_STEPS[-1])
    return step * math.ceil(highest * 1.05 / step), step


def _seconds(value: float) -> str:
    return "0" if value == 0 else f"{value * 1000:g} ms" if value < 1 else f"{value:g} s"


def _path(points: list[tuple[float, float] | None]) -> str:
    """An SVG path through ``points``, broken at each None (a lone point is a dot); of the points on one unit
    across, the highest (the slowest time)."""
    pieces: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if pieces[-1]:
                pieces.append([])
        elif pieces[-1] and int(pieces[-1][-1][0]) == int(point[0]):
            if point[1] < pieces[-1][-1][1]:  # a smaller y is a slower time
                pieces[-1][-1] = point
        else:
            pieces[-1].append(point)
    drawn = []
    for piece in filter(None, pieces):
        drawn.append(" ".join(f"{'L' if number else 'M'}{x:g},{y:g}" for number, (x, y) in enumerate(piece))
                     + (" h0" if len(piece) == 1 else ""))
    return " ".join(drawn)


@dataclass
class Stretch:
    """A stretch of the state bar: runs in a row with the same state, or the runs too close to tell apart."""

    x: float
    width: float
    word: str  # ok | warn | fail | none
    title: str


@dataclass
class _Runs:
    first: datetime
    last: datetime
    x: float
    word: str
    runs: int = 1
    red: int = 0
    said: str = ""  # the first red run's line


def state_bar(axis: TimeAxis, runs: list[tuple[datetime, str, str]]) -> list[Stretch]:
    """``runs`` (time, colour word, its red line or "") as stretches from each run to the next, oldest first."""
    stretches: list[_Runs] = []
    for when, word, said in runs:
        x = axis.x(when)
        red = word == "fail"
        last = stretches[-1] if stretches else None
        if last is not None and (last.word == word or x - last.x < BAR_UNIT):
            last.last, last.runs, last.red = when, last.runs + 1, last.red + red
            last.said = last.said or said
            last.word = max(last.word, word, key=SEVERITY.__getitem__)
        else:
            stretches.append(_Runs(when, when, x, word, red=int(red), said=said))
    shown = []
    for number, stretch in enumerate(stretches):
        end = stretches[number + 1].x if number + 1 < len(stretches) else max(RIGHT, stretch.x + BAR_UNIT)
        shown.append(Stretch(stretch.x, round(max(end - stretch.x, BAR_UNIT), 1), stretch.word, _title(stretch)))
    return shown


def _title(stretch: _Runs) -> str:
    when = f"{stretch.first:%a %d %b %H:%M}" + (f" to {stretch.last:%a %H:%M}" if stretch.runs > 1 else "")
    runs = f"{stretch.runs} run{'s' if stretch.runs > 1 else ''}"
    if stretch.red:
        state = f"{stretch.red} red" if stretch.runs > 1 else "red"
    else:
        state = {"ok": "passed", "warn": "passed with warnings", "fail": "red", "none": "not run"}[stretch.word]
    return f"{when}: {runs}, {state}" + (f": {stretch.said}" if stretch.said else "")


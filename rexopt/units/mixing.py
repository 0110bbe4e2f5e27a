"""Mixers, splitters (discrete recycle fractions) and route switches."""

from __future__ import annotations

from rexopt.units.base import Unit, UnitResult, merge, scale


class Mixer(Unit):
    def __init__(self, name: str, inlets: tuple[str, ...]):
        super().__init__(name, [{}])
        self.inlets = inlets
        self.outlets = ("outlet",)

    def simulate(self, inlets, point):
        return UnitResult(outlets={"outlet": merge(*inlets.values())})


class Splitter(Unit):
    """Splits a stream: fraction ``point[key]`` to outlet ``a``, the rest to ``b``."""

    def __init__(
        self,
        name: str,
        fractions: list[float],
        a: str,
        b: str,
        key: str,
        tag: dict | None = None,
    ):
        pts = [{key: f, **(tag or {})} for f in fractions]
        super().__init__(name, pts)
        self.key = key
        self.inlets = ("inlet",)
        self.outlets = (a, b)

    def simulate(self, inlets, point):
        s = inlets.get("inlet", {})
        f = point[self.key]
        a, b = self.outlets
        return UnitResult(outlets={a: scale(s, f), b: scale(s, 1 - f)})


class Router(Unit):
    """Sends the whole inlet to the outlet named by the route tag of the point."""

    def __init__(self, name: str, tag: str, options: tuple[str, ...]):
        super().__init__(name, [{tag: o} for o in options])
        self.tag = tag
        self.inlets = ("inlet",)
        self.outlets = options

    def simulate(self, inlets, point):
        s = inlets.get("inlet", {})
        return UnitResult(
            outlets={o: (dict(s) if o == point[self.tag] else {}) for o in self.outlets}
        )

"""Synthetic darknet worlds with ground truth: ``teiten simulate``.

A scenario (a preset — ``talot2``, ``npa``, ``telescope`` — or a TOML file) names sensors and
actor populations; :func:`simulate` writes per-sensor captures, the sensor registry and the truth
of everything injected. See ``docs/scenarios.md``.

Examples
--------
>>> from teiten.simulate import load_scenario, parse_period, preset_names
>>> preset_names()
['npa', 'talot2', 'telescope']
"""

from teiten.simulate.engine import Params, Summary, simulate
from teiten.simulate.period import parse_period
from teiten.simulate.scenario import Scenario, load_scenario, preset_names

__all__ = ["Params", "Scenario", "Summary", "load_scenario", "parse_period", "preset_names",
           "simulate"]

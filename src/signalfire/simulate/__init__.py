"""A seeded generator of realistic critical-infrastructure network traffic as Zeek logs.

It writes benign traffic of several operators (office, servers, ICS) with a diurnal rhythm,
injects a known set of attacks, and records what it injected in ``ground_truth.json`` so that
detections can be scored. See ``docs/simulator.md``.
"""

from __future__ import annotations

from signalfire.simulate.runner import SimulationConfig, SimulationResult, run_simulation

__all__ = ["SimulationConfig", "SimulationResult", "run_simulation"]

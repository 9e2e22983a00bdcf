"""The policies the simulator compares behind one interface: ours (the market, the core's own) and the baselines."""

from fairshare.simulator.policies.registry import POLICIES, Policy

__all__ = ["POLICIES", "Policy"]

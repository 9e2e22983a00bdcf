"""Trace-driven simulator: replays GPU-cluster workloads through the scheduling core in simulated time."""

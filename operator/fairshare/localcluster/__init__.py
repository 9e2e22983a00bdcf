"""A real local Kubernetes control plane with simulated (kwok) GPU nodes, for tests, benchmarks and the demo."""

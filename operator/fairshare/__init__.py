"""fairshare-operator: a Kubernetes operator that runs a shared GPU cluster as a fair market."""

__version__ = "0.1.0"

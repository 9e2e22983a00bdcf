"""Unit tests of the pure pod, Service and torchrun-env builders."""

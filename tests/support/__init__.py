"""Helpers shared by every test tier: bounded waits and the local-cluster fixtures' plumbing."""

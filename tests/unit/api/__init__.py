"""Unit tests of the CR models, their parsing, and the CRDs they mirror."""

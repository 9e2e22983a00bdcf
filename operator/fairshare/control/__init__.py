"""The operator's control logic, free of API I/O: an in-memory store, the snapshot, and one cycle's plan."""

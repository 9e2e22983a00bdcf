"""The only layer that talks to the Kubernetes API: clients, applying a cycle's actions, listing for resync."""

"""Throughput feedback: read what running trainers measure (scrape or Prometheus) for the scheduling loop."""

"""kopf handlers: they translate watch events into store updates and wake the scheduling loop, nothing else."""

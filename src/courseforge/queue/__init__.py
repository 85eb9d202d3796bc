"""The durable job queue: enqueue with dedup, claim, leases, cancel, retry, rescue, retention."""

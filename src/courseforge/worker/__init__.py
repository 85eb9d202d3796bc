"""Workers: processes that claim queued jobs and run them, with leases and heartbeats."""

"""courseforge: AI course generation with a durable job queue."""

__version__ = "0.1.0"

"""The HTTP API: FastAPI routes over the stores and the queue, and live events over SSE."""

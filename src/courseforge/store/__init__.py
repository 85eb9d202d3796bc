"""Persistence: tables, migrations and the one module that reads and writes jobs and courses."""

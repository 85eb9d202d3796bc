"""Renderings of a finished course: JSON and Markdown."""

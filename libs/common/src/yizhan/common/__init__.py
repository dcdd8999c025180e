"""Shared building blocks of the Yizhan services (one way to do each thing)."""

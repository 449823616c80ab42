"""Benchmarks: `rag bench` (or `python -m bench`) measures ingest, query, answer and cold-start speed."""

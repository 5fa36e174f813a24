"""Ingest: decode captures, enrich once, write store partitions. Safe to re-run."""

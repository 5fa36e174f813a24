"""Capture stage: read pcap/pcapng (transparently decompressed) into packet-table columns.

:class:`teiten.capture.reader.CaptureReader` is the entry point; ``writer.py`` builds captures.
"""

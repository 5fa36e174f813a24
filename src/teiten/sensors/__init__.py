"""Sensors: live capture driver, spool follower, responsive sensor, first-payload classifiers.

- :mod:`teiten.sensors.capture` drives tcpdump with rotation and records sensor health;
- :mod:`teiten.sensors.spool` ingests each closed capture file of a spool directory once;
- :mod:`teiten.sensors.respond` is the responsive sensor that records first payloads;
- :mod:`teiten.sensors.classify` names the protocol of a first payload and extracts key fields;
- :mod:`teiten.sensors.payloads` holds the ``payloads`` table schema and its analyses.
"""

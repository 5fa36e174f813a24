"""Command-line interface: wiring only (parse arguments, call the library, print)."""

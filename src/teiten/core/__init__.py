"""Core pieces every stage shares: the exception tree, table schemas, sensors, time."""

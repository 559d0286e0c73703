"""Fault tests: the system under load while processes, the database and the chain fail."""

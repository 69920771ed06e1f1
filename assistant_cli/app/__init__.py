"""Top floor of the running service: `serve` wires channels, engine and gateway together."""

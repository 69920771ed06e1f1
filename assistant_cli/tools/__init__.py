"""Tools the model may call: registry, policy, MCP connectors, built-ins, confirmations."""

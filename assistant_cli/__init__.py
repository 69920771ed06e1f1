"""assistant-cli: a self-hosted AI assistant gateway driven from the terminal."""

__version__ = "0.1.0"

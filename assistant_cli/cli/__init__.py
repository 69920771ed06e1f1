"""The Typer command tree: one thin module per command group.

Command modules import what they need inside their command functions (`lazy.py` loads the
module itself only when its command runs), so `--help`, `--version` and every command load
no engine, store or library they do not use; that is the lazy start-up the layering test
allows here.
"""

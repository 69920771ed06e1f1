"""Ground floor: the domain vocabulary (messages, replies, chat turns, events).

Modules here import nothing of ours; every other package may depend on them.
"""

"""The command groups: thin wiring from options to engine calls to rendering."""

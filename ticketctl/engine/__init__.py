"""The engine: everything that works without a terminal. Nothing here imports typer or rich."""

"""Text from $EDITOR (or $VISUAL) for commands that take a body: a temporary file, the editor, the result."""

from __future__ import annotations

import os
from pathlib import Path

from ticketctl.engine.errors import ConfigError


def edit_text(initial: str = "", suffix: str = ".txt") -> str:
    """Open the user's editor on `initial` and return what was saved; an empty result is refused."""
    import shlex
    import subprocess
    import tempfile

    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise ConfigError("No text was given and $EDITOR is not set; pass the text as an option or set EDITOR.")
    with tempfile.TemporaryDirectory(prefix="ticketctl-") as folder:
        path = Path(folder) / f"message{suffix}"
        path.write_text(initial, encoding="utf-8")
        try:
            done = subprocess.run([*shlex.split(command), str(path)], check=False)
        except OSError as exc:
            raise ConfigError(f"Cannot start the editor '{command}' ({exc.strerror}); check $EDITOR.") from exc
        if done.returncode != 0:
            raise ConfigError(f"The editor '{command}' exited with status {done.returncode}; nothing was saved.")
        text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ConfigError("The editor returned an empty text; nothing was done.")
    return text


def read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path} as UTF-8 text ({exc}); check the path.") from exc

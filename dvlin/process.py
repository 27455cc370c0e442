"""Running a user's command: its output pumped to callbacks, its exit status as text."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO

Sink = Callable[[bytes], None]


def execute(
    command: Sequence[str],
    *,
    shell: bool,
    env: Mapping[str, str] | None = None,
    on_stdout: Sink | None = None,
    on_stderr: Sink | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[int, str | None]:
    """Run the command, streaming its output; returns (exit code, error text or None).

    Without ``shell`` the arguments go to the program as they are — no word splitting, no
    globbing, no variable expansion.
    """
    args: str | list[str] = " ".join(command) if shell else list(command)
    try:
        proc = subprocess.Popen(
            args,
            shell=shell,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE if on_stdout else None,
            stderr=subprocess.PIPE if on_stderr else None,
        )
    except FileNotFoundError:
        return 127, f"command not found: {command[0]}"
    except PermissionError:
        return 126, f"cannot execute {command[0]}: permission denied"
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink), daemon=True)
        for stream, sink in ((proc.stdout, on_stdout), (proc.stderr, on_stderr))
        if stream is not None and sink is not None
    ]
    for t in pumps:
        t.start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        code = proc.wait()  # the child got the same SIGINT; let it finish dying
        for t in pumps:
            t.join()
        raise
    for t in pumps:
        t.join()
    if code < 0:
        return 128 - code, f"killed by signal {-code}"
    return code, (f"exit code {code}" if code else None)


def _pump(stream: IO[bytes], sink: Sink) -> None:
    read = getattr(stream, "read1", stream.read)
    while chunk := read(65536):
        sink(chunk)
    stream.close()

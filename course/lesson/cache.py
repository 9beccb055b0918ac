"""Results kept on disk, keyed by their inputs and the code that made them, so every later kernel reuses them
instead of recomputing (charts, simulation runs). A read-only install just recomputes."""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from course.paths import folder


def _digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def cached(namespace: str, code_file: str | Path | tuple, dump: Callable = lambda r: r,
           load: Callable = lambda d: d):
    """Keep a function's results in `cache/<namespace>/`; `dump`/`load` turn a result into JSON and back.
    The key includes the contents of `code_file` (one file or a tuple of them), so changing that code starts
    afresh."""
    files = code_file if isinstance(code_file, tuple) else (code_file,)
    version = _digest(b"".join(Path(f).read_bytes() for f in files))[:12]

    def decorator(compute):
        @functools.wraps(compute)
        def wrapper(*args, **kwargs):
            spec = json.dumps([compute.__name__, version, args, kwargs], sort_keys=True, default=list)
            path = folder("cache") / namespace / f"{_digest(spec.encode())}.json"
            try:
                return load(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError):
                result = compute(*args, **kwargs)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(dump(result)), encoding="utf-8")
                os.replace(tmp, path)
            except OSError:
                pass
            return result

        return wrapper

    return decorator

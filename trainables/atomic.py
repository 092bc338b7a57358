"""Write a file or a folder so that readers see either nothing or the whole of it.

Caches (tokens, teacher logits, the tiny teacher), checkpoints and study files are filled by
several processes at once (concurrent trials, two studies sharing a cache). Each writer works on
its own temporary name beside the target (process id + a random suffix), then renames it over the
target in one step; a reader never meets a half-written file, and two writers never write into
the same temporary file.

>>> import json, pathlib, tempfile
>>> target = pathlib.Path(tempfile.mkdtemp()) / "entry.json"
>>> with atomic_write(target) as tmp:
...     _ = tmp.write_text(json.dumps({"ok": True}))
>>> json.loads(target.read_text())
{'ok': True}
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_write(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success, rename it to ``target``.

    Write a file (or create a folder) at the yielded path. A file replaces ``target``. A folder
    replaces a missing ``target``; when another process has already put a folder there, that
    one is kept and ours is discarded (both hold the same content: a cache entry). On an
    exception the temporary path is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        if tmp.is_dir():
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
                # another writer finished first: keep its folder; ours is removed below
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)

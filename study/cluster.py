"""A study on a Ray cluster: what every node needs, checked on every node before trials start.

Trials run wherever Ray places them, so each node must import the project at the driver's
version, read the teacher folder and the data, write the cache folder, and write the study's
``--storage-path`` *as the same shared folder* (a trial's results, checkpoints and compact
model go there; Tune restores a trial retried after its node died from there). One small task
per alive node checks all of that; every problem comes back as one line naming the node, the
path and the fix, before a minute of training is spent.

>>> needs = NodeNeeds(version="0.1.0", read={"teacher": "/models/t"}, write={}, storage=None)
>>> needs.version
'0.1.0'
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from study.errors import UsageError

PACKAGE = "lowres-compress-study"
# Where each node leaves its proof of writing into a local --storage-path; removed afterwards.
PROBE_DIR = ".node-check"
CHECK_TIMEOUT_S = 120.0

CLIENT_REFUSED = (
    "Ray Client (--address ray://...) is not supported: Tune's driver would run on this machine "
    "while the trials write to --storage-path on the cluster. Run the study on the head node "
    "(`ssh HEAD`, then `python -m study.run --address auto --storage-path /shared/results ...`) or "
    "submit it as a job: `ray job submit --address http://127.0.0.1:8265 -- python -m study.run "
    "--address auto --storage-path /shared/results ...` (through an SSH tunnel to the head)"
)


def project_version() -> str:
    """The installed version of this project (what every node must have too)."""
    return importlib.metadata.version(PACKAGE)


@dataclass(frozen=True)
class NodeNeeds:
    """What a node must offer: the project at ``version``, readable ``read`` paths, writable
    (creatable) ``write`` folders, both keyed by what they are ("teacher", "data", "cache"),
    and, for a local ``storage`` folder, a view of the same folder the driver sees."""

    version: str
    read: dict[str, str] = field(default_factory=dict)
    write: dict[str, str] = field(default_factory=dict)
    storage: str | None = None
    probe: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class NodeCheck:
    """One node's answer: its Ray node id, host name and the problems found (empty: ready)."""

    node_id: str
    hostname: str
    problems: tuple[str, ...]


def inspect_node(needs: NodeNeeds) -> dict[str, Any]:
    """Run on a node (as a Ray task): the problems this node has with ``needs``."""
    import ray

    problems: list[str] = []
    try:
        import trainables.trial  # noqa: F401  (what every trial imports first)

        version = project_version()
    except Exception as error:  # what is missing is the message
        problems.append(
            f"cannot import the project ({error!r}): install it on every node at version "
            f"{needs.version} (`pip install -e .` in the same checkout, or `pip install "
            f"{PACKAGE}=={needs.version}`)"
        )
    else:
        if version != needs.version:
            problems.append(
                f"{PACKAGE} is version {version} here but {needs.version} on the driver: "
                "install the same version on every node"
            )
    for what, path in needs.read.items():
        if not os.access(path, os.R_OK):
            problems.append(
                f"cannot read the {what} at {path}: put it on storage every node mounts at the "
                "same path (NFS), or copy it to that path on every node"
            )
    for what, path in needs.write.items():
        problem = _writable(Path(path))
        if problem:
            problems.append(f"cannot write the {what} folder {path} ({problem}): {_WRITE_FIX}")
    if needs.storage is not None:
        problem = _writable(Path(needs.storage) / PROBE_DIR, probe=needs.probe)
        if problem:
            problems.append(
                f"cannot write --storage-path {needs.storage} ({problem}): use a folder every "
                "node mounts (NFS) or a URI such as s3://bucket/results"
            )
    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "hostname": socket.gethostname(),
        "problems": problems,
    }


_WRITE_FIX = "give every node a writable --cache-dir (shared or local), e.g. $LOWRES_CACHE"


def _writable(folder: Path, probe: str | None = None) -> str:
    """Empty when ``folder`` can be created and written here (leaving ``probe`` as a file
    named for this node when given), else what went wrong."""
    import ray

    try:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{probe}-{ray.get_runtime_context().get_node_id()}" if probe else None
        target = folder / (name or f".write-check-{uuid.uuid4().hex}")
        target.write_text("ok")
        if probe is None:
            target.unlink()
    except OSError as error:
        return f"{type(error).__name__}: {error.strerror or error}"
    return ""


def check_nodes(needs: NodeNeeds, *, timeout_s: float = CHECK_TIMEOUT_S) -> list[NodeCheck]:
    """Ask every alive node of the connected Ray cluster about ``needs``; one check per node.

    A node whose task cannot even start (the project is not importable there, so the task's
    code cannot be loaded) or does not answer within ``timeout_s`` gets that as its problem. A
    local ``needs.storage`` must show every node's probe file to the driver afterwards:
    otherwise that node writes to a folder of its own, not the shared one.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    remote = ray.remote(num_cpus=0, max_retries=0)(inspect_node)
    refs = {
        node["NodeID"]: remote.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote(needs)
        for node in nodes
    }
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)
    checks = []
    for node in nodes:
        node_id, ref = node["NodeID"], refs[node["NodeID"]]
        host = str(node.get("NodeManagerHostname") or node.get("NodeManagerAddress") or "?")
        if ref not in ready:
            ray.cancel(ref, force=True)
            checks.append(
                NodeCheck(node_id, host, (f"did not answer within {timeout_s:g} s; is it busy?",))
            )
            continue
        try:
            answer = ray.get(ref)
        except Exception as error:  # the task could not run there: the message says why
            checks.append(NodeCheck(node_id, host, (_task_failure(error, needs.version),)))
            continue
        problems = list(answer["problems"])
        if needs.storage is not None and not problems:
            probe = Path(needs.storage) / PROBE_DIR / f"{needs.probe}-{node_id}"
            if not probe.exists():
                problems.append(
                    f"--storage-path {needs.storage} is a different folder there than here "
                    "(what it writes does not show up on the driver): use a folder every node "
                    "mounts at the same path (NFS) or a URI such as s3://bucket/results"
                )
        checks.append(NodeCheck(node_id, answer["hostname"] or host, tuple(problems)))
    if needs.storage is not None:
        for probe in (Path(needs.storage) / PROBE_DIR).glob(f"{needs.probe}-*"):
            probe.unlink(missing_ok=True)
    return checks


def _task_failure(error: BaseException, version: str) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    if "ModuleNotFoundError" in str(error) or "No module named" in str(error):
        return (
            f"cannot import the project ({last}): install it on every node at version {version} "
            f"(`pip install -e .` in the same checkout, or `pip install {PACKAGE}=={version}`)"
        )
    return f"the check could not run there: {last}"


def node_needs(base_config: Mapping[str, Any], storage_path: str) -> NodeNeeds:
    """What a study's trials read and write on whichever node runs them, from its base config:
    the teacher folder (a hub id is the hub's to serve), the data folder, the cache folder, and
    ``storage_path`` when it is a local folder (a URI is the storage service's to serve)."""
    from trainables.data import default_cache_dir

    read: dict[str, str] = {}
    teacher = str(base_config.get("teacher") or "")
    if teacher and Path(teacher).is_absolute():
        read["teacher"] = teacher
    data = base_config.get("data") or {}
    data_dir = data.get("data_dir") if isinstance(data, Mapping) else None
    if data_dir:
        read["data folder"] = str(Path(data_dir).resolve())
    cache = base_config.get("cache_dir") or default_cache_dir()
    storage = None if "://" in storage_path else storage_path
    return NodeNeeds(
        version=project_version(),
        read=read,
        write={"cache": str(Path(cache).expanduser().resolve())},
        storage=storage,
    )


def require_ready(checks: list[NodeCheck]) -> None:
    """Raise :class:`study.errors.UsageError` listing every node's problems, one line each."""
    lines = [
        f"node {check.node_id[:12]} ({check.hostname}): {problem}"
        for check in checks
        for problem in check.problems
    ]
    if lines:
        raise UsageError(
            f"{len({line.split(':')[0] for line in lines})} of {len(checks)} node(s) cannot run "
            "this study's trials:\n  " + "\n  ".join(lines)
        )

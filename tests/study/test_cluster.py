"""A study across several Ray nodes, on a cluster simulated on this machine: a head without CPUs
(so no trial runs beside the driver) and two one-CPU worker nodes, each a raylet of its own
(``ray.cluster_utils.Cluster``). ``python -m study.run --address`` joins it as a real cluster's
driver would. Small on purpose: the session's small teacher, 150 headlines per split.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from study.cli import UsageError
from study.cluster import NodeNeeds, check_nodes, project_version, require_ready
from trainables import metrics as M

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# Worker processes start with the environment of the raylet that spawns them.
NODE_ENV = {
    "OMP_NUM_THREADS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    "HF_HUB_OFFLINE": "1",
}
# Notice a dead node within about a second instead of Ray's default of tens of seconds.
FAST_HEALTH_CHECKS = {"health_check_period_ms": 200, "health_check_failure_threshold": 5}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[object, list[object]]]:
    """A head (0 CPUs) and two worker nodes (1 CPU each), shared by this module's tests (starting
    one takes about a minute); the test process stays disconnected. The study that removes a
    worker node runs last."""
    from ray.cluster_utils import Cluster

    saved = {key: os.environ.get(key) for key in NODE_ENV}
    os.environ.update(NODE_ENV)
    simulated = Cluster()  # the head is added inside ``try`` so a failed start is torn down too
    try:
        simulated.add_node(
            num_cpus=0,
            # no dashboard: port 8265 may be another Ray's (a study on this machine)
            include_dashboard=False,
            _system_config=FAST_HEALTH_CHECKS,
        )
        workers = [simulated.add_node(num_cpus=1) for _ in range(2)]
        simulated.wait_for_nodes()
        yield simulated, workers
    finally:
        simulated.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _args(cluster_address: str, mahanews_dir: Path, storage: Path, name: str, teacher: str):
    return [
        sys.executable, "-m", "study.run", "--address", cluster_address, "--preset", "tiny",
        "--model", teacher, "--data-dir", str(mahanews_dir), "--variant", "shc",
        "--max-rows", "150", "--set", "timing_repeats=2", "--set", "energy_seconds=0.3",
        "--storage-path", str(storage), "--name", name,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, **NODE_ENV}


def _reports(trial_dir: Path) -> list[dict]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _trial_dirs(study: Path) -> list[Path]:
    return sorted(d for d in study.iterdir() if (d / "params.json").exists())


def test_every_node_is_checked_and_each_problem_named(cluster, tmp_path) -> None:
    import ray

    simulated, _ = cluster
    ray.init(address=simulated.address, logging_level="ERROR")
    try:
        needs = NodeNeeds(
            version=project_version(),
            read={"teacher": str(tmp_path / "no-such-teacher")},
            write={"cache": str(tmp_path / "cache")},
            storage=str(tmp_path / "storage"),
        )
        checks = check_nodes(needs)
        assert len(checks) == 3  # the head and both workers
        for check in checks:
            assert len(check.problems) == 1 and "cannot read the teacher" in check.problems[0]
        with pytest.raises(UsageError, match=r"3 of 3 node\(s\) cannot run") as error:
            require_ready(checks)
        assert str(error.value).count("no-such-teacher") == 3
        # the storage probes are cleaned up, the cache folder was made
        assert not list((tmp_path / "storage" / ".node-check").iterdir())
        assert (tmp_path / "cache").is_dir()
        # another version of the project on the nodes than on the driver
        other = NodeNeeds(version="0.0.0-elsewhere")
        problems = [p for check in check_nodes(other) for p in check.problems]
        assert len(problems) == 3 and all("0.0.0-elsewhere" in p for p in problems)
        ready = check_nodes(NodeNeeds(version=project_version(), storage=str(tmp_path)))
        require_ready(ready)  # nothing to say
    finally:
        ray.shutdown()


def test_ray_client_is_refused_with_what_to_use_instead(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "study.run", "--grid", "paper", "--address", "ray://head:10001"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "ray job submit" in proc.stderr and "--address auto" in proc.stderr


def test_a_study_spreads_over_the_nodes_and_survives_losing_one(
    cluster, mahanews_dir, tmp_path, small_teacher
) -> None:
    """Three trials of two epochs over two one-CPU workers: the first two start one on each
    worker; after one of them has checkpointed its first epoch its node is removed, and the
    trial finishes from that checkpoint on the node that is left."""
    simulated, workers = cluster
    args = _args(simulated.address, mahanews_dir, tmp_path, "multi", small_teacher[0].path)
    study = tmp_path / "multi"
    # No student cache: a first attempt can finish training before its node's processes die,
    # and its retry would then load that student instead of resuming (right, but not what this
    # test is about).
    flags = [
        "--search", "optuna", "-n", "3", "--epochs", "2", "--max-failures", "2",
        "--set", "student_cache=",
    ]  # fmt: skip
    with subprocess.Popen(
        [*args, *flags],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        # Wait until a trial has checkpointed an epoch (and not finished), then take its node.
        victim, deadline = None, time.monotonic() + 600
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            for trial_dir in _trial_dirs(study) if study.exists() else []:
                reports = _reports(trial_dir)
                if reports and reports[-1].get(M.EPOCH, 0) >= 1 and M.ACCURACY not in reports[-1]:
                    victim = (trial_dir, reports[-1][M.NODE_ID], reports[-1]["timestamp"])
                    break
        assert victim is not None, "no trial reached its first epoch"
        trial_dir, dead_node, last_report = victim
        node = next(node for node in workers if node.node_id == dead_node)
        simulated.remove_node(node, allow_graceful=False)
        output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output[-3000:]
    assert "cluster: 3 node(s) ready" in output

    table = pd.read_csv(study / "summary.csv")
    assert len(table) == 3 and (table["status"] == "TERMINATED").all(), table[["name", "error"]]
    # every trial ran on a worker node (the head has no CPUs), and both workers ran trials
    trial_dirs = _trial_dirs(study)
    assert len(trial_dirs) == 3
    nodes_used = {r[M.NODE_ID] for d in trial_dirs for r in _reports(d)}
    assert nodes_used == {node.node_id for node in workers}
    # two trials at once on one machine: marked as sharing it
    assert table[M.MACHINE_SHARED].astype(bool).all()
    # results and compact models are under --storage-path, whichever node ran them; the training
    # checkpoints (the retried trial's included) went once each trial had finished
    for model_dir in table["model_dir"]:
        assert Path(model_dir).is_relative_to(study) and (Path(model_dir) / "config.json").exists()
    for each in trial_dirs:
        for name in ("final_metrics.json", "emissions.csv", "predictions.npz"):
            assert (each / name).exists(), (each, name)
        assert not [p.name for p in each.iterdir() if p.name.startswith("checkpoint")], each
    assert len(pd.read_csv(study / "configs.csv")) == 3

    # the retried trial went on from its checkpoint, on the node that is left
    reports = _reports(trial_dir)
    final = reports[-1]
    assert final[M.RESUMED_FROM_EPOCH] >= 1 and final[M.NODE_ID] != dead_node
    epochs = [r[M.EPOCH] for r in reports if M.ACCURACY not in r]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 2  # no epoch trained twice
    # the other trials were not repeated: one final report each, from the start
    for other in (d for d in trial_dirs if d != trial_dir):
        finals = [r for r in _reports(other) if M.ACCURACY in r]
        assert len(finals) == 1 and finals[0][M.RESUMED_FROM_EPOCH] == 0
    # the trial-to-node table and how long the lost trial waited (for a free CPU on the node
    # that is left, then its checkpoint's restore and one epoch)
    after = next(r for r in reports if r[M.NODE_ID] != dead_node)
    print(table[["name", M.NODE_ID]].to_string(index=False))
    print(
        f"recovery: {after['timestamp'] - last_report:.0f} s from the last report on the lost "
        f"node to the retried trial's next report; trial {trial_dir.name}, node "
        f"{dead_node[:12]} -> {final[M.NODE_ID][:12]}, resumed from epoch "
        f"{final[M.RESUMED_FROM_EPOCH]}"
    )

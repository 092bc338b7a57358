"""The command line of ``python -m study.run``: its options, their defaults, and flag checks."""

from __future__ import annotations

import argparse
import json
from typing import Any, NoReturn

from search_spaces.extended import depth_grid, extended_grid
from search_spaces.optuna_space import EXTRA, LEVER_NAMES
from search_spaces.paper import paper_grid
from study.cluster import CLIENT_REFUSED
from study.errors import UsageError
from trainables.data.flags import HelpFormatter, add_data_flags
from trainables.precision import PRECISIONS
from trainables.presets import TINY_FAMILIES

GRIDS = {"paper": paper_grid, "extended": extended_grid, "depth": depth_grid}
SEARCHES = ("optuna",)
SAMPLERS = ("tpe", "nsga2")
PRESET_NAMES = ("tiny", "paper")
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m study.run",
        description="Run the paper's compression grid or a multi-objective Optuna search "
        "(maximise accuracy and speedup, minimise emissions where energy is measured) as a Ray "
        "Tune study.",
        epilog="Results: STORAGE_PATH/NAME/summary.csv and summary.md (one row per trial), "
        "pareto.png/.html, and for a search the Optuna study (optuna-dashboard URL). "
        "Ray's dashboard (--dashboard) asks for the token in ~/.ray/auth_token.",
        formatter_class=HelpFormatter,
    )
    what = p.add_argument_group("what to run (one of)")
    one = what.add_mutually_exclusive_group()
    one.add_argument(
        "--grid",
        choices=sorted(GRIDS),
        help="paper: the paper's baseline + six runs; extended: those, then at each density with "
        "KD whole heads, + int8, + vocabulary trimming, then depth (layers dropped) alone and with "
        "width; depth: the KD rows, depth alone and both at matched ideal speed, each + int8",
    )
    one.add_argument("--search", choices=SEARCHES, help="a multi-objective search")
    what.add_argument("-n", "--num-samples", type=int, default=16, help="trials of a search")
    what.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="Optuna sampler")
    what.add_argument(
        "--also-search",
        default="",
        metavar="NAMES",
        help=f"comma-separated extra parameters to search: {', '.join(EXTRA)}, or levers "
        f"(all of {', '.join(LEVER_NAMES)}; temperature and alpha are searched under KD only, "
        "the layer selection only when layers are dropped); regularization_lambda prunes by "
        "sigmoid threshold instead of a target density",
    )
    what.add_argument(
        "--seed-points",
        choices=("paper", "extended"),
        default="paper",
        help="what a search tries first: the paper's six runs, or also every extended-grid row "
        "the space can express (a search to compare with the grid at equal budget starts from "
        "the paper's only)",
    )
    what.add_argument(
        "--objectives",
        metavar="NAME:DIR,...",
        help="what a search optimises and a front is chosen on, each max or min, e.g. "
        "val_accuracy:max,speedup:max,emissions_kg:min (default: those three, without "
        "emissions_kg where CodeCarbon can only estimate energy from time: no RAPL, no NVML)",
    )
    what.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="replicates: every grid point (or --confirm configuration) runs with student seeds "
        "SEED, SEED+1, ...; the teacher and the splits stay fixed",
    )
    what.add_argument(
        "--confirm",
        action="store_true",
        help="re-run the validation-front configurations of the finished search --name with "
        "--seeds fresh seeds (and the baseline), into the same study folder",
    )
    what.add_argument(
        "--rows",
        metavar="NAMES",
        help="comma-separated names of the grid rows to run (e.g. '75%% pruning + KD + heads'), "
        "with the baseline every comparison is paired with (default: every row)",
    )
    what.add_argument(
        "--no-classical",
        action="store_true",
        help="leave out the grid's TF-IDF + logistic-regression reference trial",
    )
    what.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted study STORAGE_PATH/NAME with its own settings: "
        "finished trials are kept, unfinished ones resume from their last epoch, failed ones "
        "stay failed, nothing is queued twice",
    )

    add_data_flags(
        p.add_argument_group("data"),
        seed_help="seed of the data splits, the teacher and the trials (--set seed=N: trials only)",
    )

    model = p.add_argument_group("teacher and trials")
    model.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="tiny",
        help="scale: tiny trains a small teacher on CPU; paper is the real L3Cube model",
    )
    model.add_argument("--model", help="teacher: hub id or local folder (default: the preset's)")
    model.add_argument("--epochs", type=int, help="training epochs per trial (default: preset's)")
    model.add_argument(
        "--teacher-family",
        choices=TINY_FAMILIES,
        help="tiny preset: the teacher's encoder family and tokenizer kind (default bert): "
        "bert/electra/distilbert WordPiece, roberta byte-level BPE, xlm-roberta Unigram",
    )
    model.add_argument(
        "--teacher-epochs", type=int, help="tiny preset: fine-tuning epochs of the teacher"
    )
    model.add_argument(
        "--teacher-mlm-epochs", type=int, help="tiny preset: MLM pre-training epochs (0: none)"
    )
    model.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="trials' precision: auto is fp16 autocast + GradScaler on CUDA, fp32 on CPU; rows "
        "record what it resolved to (precision_used) and the speedup against the fp32 teacher",
    )
    model.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other trial config key (trainables/config.py), e.g. --set timing_repeats=3",
    )
    model.add_argument(
        "--cache-dir",
        help="teacher, tokens and teacher logits (default $LOWRES_CACHE or "
        "~/.cache/lowres-study); on a multi-node cluster a folder every node can read",
    )
    model.add_argument(
        "--paper",
        choices=("auto", "yes", "no"),
        default="auto",
        help="show the paper's Table I beside the results (auto: when the labels are MahaNews')",
    )

    where = p.add_argument_group("where and how")
    where.add_argument(
        "--storage-path",
        default="results",
        help="experiment folder root (a path, NFS or s3://...)",
    )
    where.add_argument("--name", help="study name (default: paper for a grid, sweep for a search)")
    where.add_argument(
        "--optuna-storage",
        help="database URL of the Optuna study (default sqlite:///STORAGE_PATH/NAME/optuna.db; "
        "give a database every node reaches when the driver runs elsewhere)",
    )
    where.add_argument(
        "--address",
        help="existing Ray cluster (auto, or HOST:6379 of its head), run from a node of it; "
        "every node needs this project at the same version, the teacher and data, a writable "
        "--cache-dir and the same --storage-path (NFS, s3://): checked before trials start. "
        "Ray Client (ray://) is refused: submit the study as a Ray job instead",
    )
    where.add_argument(
        "--dashboard", action="store_true", help="keep Ray's dashboard on 127.0.0.1:8265"
    )
    where.add_argument("--cpus-per-trial", type=float, help="default: all CPUs / --max-concurrent")
    where.add_argument("--gpus-per-trial", type=float, help="default: 1 where GPUs exist, else 0")
    where.add_argument(
        "--max-concurrent", type=int, help="trials at once (default: 1 on CPU, one per GPU)"
    )
    where.add_argument("--max-failures", type=int, default=2, help="retries of a crashing trial")
    return p


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as a dict; values are JSON where they parse, else strings."""
    from trainables.config import TrialConfig

    known = set(TrialConfig.__dataclass_fields__)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {item!r}: write KEY=VALUE, e.g. --set timing_repeats=3")
        if key not in known:
            raise UsageError(
                f"--set {key}: not a trial config key; known keys: {', '.join(sorted(known))}"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def parse_objectives(text: str | None) -> dict[str, str] | None:
    """``--objectives NAME:max,NAME:min,...`` as ``{name: direction}`` in order; None when the
    flag is not given. Names are the metrics a finished trial reports, at least two of them.

    >>> parse_objectives("val_accuracy:max, speedup:max")
    {'val_accuracy': 'max', 'speedup': 'max'}
    """
    from trainables import metrics as M

    if text is None:
        return None
    objectives: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        name, _, direction = item.partition(":")
        name, direction = name.strip(), direction.strip()
        if direction not in ("max", "min"):
            raise UsageError(
                f"--objectives {item!r}: write NAME:max or NAME:min, e.g. "
                "val_accuracy:max,speedup:max,emissions_kg:min"
            )
        if name not in M.FINAL_METRICS:
            raise UsageError(
                f"--objectives {name!r} is not a metric a trial reports; choose from "
                f"{', '.join(M.FINAL_METRICS)}"
            )
        if name in objectives:
            raise UsageError(f"--objectives names {name} twice")
        objectives[name] = direction
    if len(objectives) < 2:
        raise UsageError(
            f"--objectives {text!r}: give at least two (a front trades one against another)"
        )
    return objectives


def check_flags(args: argparse.Namespace) -> None:
    """Flag values and combinations that are wrong whatever the data."""
    for flag in ("num_samples", "max_rows", "epochs", "max_concurrent", "teacher_epochs", "seeds"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    for flag in ("cpus_per_trial", "gpus_per_trial", "max_failures", "teacher_mlm_epochs"):
        value = getattr(args, flag)
        if value is not None and value < 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 0, got {value}")
    if args.address and args.address.startswith("ray://"):
        raise UsageError(CLIENT_REFUSED)
    if args.cpus_per_trial == 0 and not args.gpus_per_trial:
        raise UsageError("--cpus-per-trial 0 leaves a CPU trial nothing to run on")
    if args.confirm:
        if args.grid or args.search:
            raise UsageError(
                "--confirm re-runs a finished search: give --name SWEEP, not --grid/--search"
            )
        if not args.name:
            raise UsageError("--confirm needs --name of the finished search to confirm")
    if (args.confirm or args.resume) and args.objectives:
        raise UsageError(
            "--objectives applies to a new --grid or --search: --confirm and --resume keep the "
            "study's own objectives"
        )
    if args.confirm or args.resume:
        return
    parse_objectives(args.objectives)  # a mistake costs nothing yet
    if not (args.grid or args.search):
        raise UsageError("say what to run: --grid paper or --search optuna")
    if args.seeds > 1 and not args.grid:
        raise UsageError(
            f"--seeds {args.seeds} applies to --grid and --confirm: a search samples each "
            "configuration once; confirm its front afterwards with --confirm --name NAME --seeds N"
        )
    if args.rows and not args.grid:
        raise UsageError("--rows applies to --grid only (it picks rows of the grid)")
    if args.no_classical and not args.grid:
        raise UsageError("--no-classical applies to --grid only (a search has no classical trial)")
    if args.sampler != "tpe" and not args.search:
        raise UsageError("--sampler applies to --search optuna only")
    if args.also_search and not args.search:
        raise UsageError("--also-search applies to --search optuna only")
    if args.seed_points != "paper" and not args.search:
        raise UsageError("--seed-points applies to --search optuna only")

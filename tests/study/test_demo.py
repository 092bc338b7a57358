"""`make demo`: the README's main command runs a study the command line accepts, on data there is.

The Makefile's demo recipe is read as written (its variable defaults substituted), parsed by
the study's own parser and its data loaded: a renamed flag, a variant without files or a grid
that lost its classical reference fails here, not after a fresh clone's install.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from study.cli import build_parser, check_flags
from trainables.data import load_splits
from trainables.data.flags import data_spec

REPO = Path(__file__).resolve().parents[2]


def _make_defaults(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)\s*\?=\s*(.*?)\s*$", text, flags=re.MULTILINE))


def _demo_command(text: str) -> list[str]:
    """The words of the demo recipe's command, line continuations joined."""
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert recipe, "the Makefile has no demo target with a recipe"
    return shlex.split(recipe.group(1).replace("\\\n", " "))


def test_make_demo_runs_the_paper_grid_on_the_shc_headlines(mahanews_dir, tmp_path):
    text = (REPO / "Makefile").read_text()
    defaults = _make_defaults(text)
    assert defaults["VARIANT"] == "shc"  # the demo's data: the short headlines (README)
    values = {
        **defaults,
        "BIN": "bin",
        "DATA_DIR": str(mahanews_dir),
        "CURDIR": str(tmp_path),
        "DEMO_NAME": "demo-test",
    }
    words = [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], w) for w in _demo_command(text)]
    assert words[:3] == ["bin/python", "-m", "study.run"]
    args = build_parser().parse_args(words[3:])
    check_flags(args)
    assert (args.grid, args.preset, args.seeds) == ("paper", "tiny", 1)
    # side by side, one thread each (the measuring lock keeps their timings apart)
    assert (args.max_concurrent, args.cpus_per_trial) == (2, 1)
    assert not args.no_classical  # the TF-IDF reference is part of the demo
    splits = load_splits(data_spec(args))
    assert "SHC" in splits.source
    assert min(len(splits.train), len(splits.validation), len(splits.test)) > 0

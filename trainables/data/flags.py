"""The data flags every command line shares, made from :class:`DataSpec`'s fields (their default
and help live there), and the spec read back from the parsed flags: the ``argparse`` namespace
stops here.

>>> import argparse
>>> parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
>>> add_data_flags(parser, seed_help="seed of the splits and the teacher")
>>> spec = data_spec(parser.parse_args(["--dataset", "mahanews-lpc", "--max-rows", "50"]))
>>> spec.dataset, spec.max_rows, spec.split_seed, spec.keep_overlap
('mahanews-lpc', 50, 42, False)
"""

from __future__ import annotations

import argparse
import types
from dataclasses import MISSING, Field, fields
from typing import Any, get_type_hints

from trainables.data.spec import DataSpec


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's ``(default: X)`` only where the help does not already say its default, and not
    for an unset value (None, off, empty): such an option's help says what happens instead."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        unset = action.default is None or action.default is False or action.default in ("", [])
        if unset or "default" in help_text:
            return help_text
        return super()._get_help_string(action)


def flag_of(spec_field: Field[Any]) -> str:
    """The flag of a DataSpec field: ``--data-dir`` for ``data_dir``, ``--seed`` for ``split_seed``.

    >>> [flag_of(f) for f in fields(DataSpec)][-2:]
    ['--seed', '--keep-overlap']
    """
    return spec_field.metadata.get("flag") or "--" + spec_field.name.replace("_", "-")


def _dest(spec_field: Field[Any]) -> str:
    return flag_of(spec_field).removeprefix("--").replace("-", "_")


def add_data_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, seed_help: str
) -> None:
    """Add one flag per :class:`DataSpec` field to ``parser`` (or an argument group of it).

    ``--seed`` also seeds what the command builds besides the splits, so its help is the
    caller's ``seed_help``.
    """
    types_ = get_type_hints(DataSpec)
    for spec_field in fields(DataSpec):
        flag = flag_of(spec_field)
        help_ = seed_help if flag == "--seed" else spec_field.metadata["help"]
        assert spec_field.default is not MISSING, "every DataSpec field has a default"
        kind = types_[spec_field.name]
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=help_)
            continue
        if isinstance(kind, types.UnionType):  # X | None: the flag takes an X
            kind = next(t for t in kind.__args__ if t is not type(None))
        parser.add_argument(flag, type=kind, default=spec_field.default, help=help_)


def data_spec(args: argparse.Namespace) -> DataSpec:
    """The :class:`DataSpec` of flags parsed with :func:`add_data_flags`; a flag the namespace
    lacks (a command line without it) takes the field's default."""
    return DataSpec(**{f.name: getattr(args, _dest(f), f.default) for f in fields(DataSpec)})

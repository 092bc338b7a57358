"""The teacher of a study: a given model (checked now, so a study fails in seconds, not after
its data is loaded), or the preset's, which for the tiny preset is trained on the study's splits.

>>> from trainables.data import DataSpec, load_splits
>>> spec = DataSpec(data_dir="../shared/data/mahanews", variant="lpc")
>>> teacher = prepare_teacher("tiny", load_splits(spec))  # doctest: +SKIP
>>> teacher.metrics["test_accuracy"]  # doctest: +SKIP
0.849
"""

from __future__ import annotations

from pathlib import Path

from trainables.data import DataSplits
from trainables.presets import TinyTeacherConfig, get_preset
from trainables.teachers.base import Teacher
from trainables.teachers.load import load_teacher
from trainables.teachers.tiny import build_tiny_teacher


def prepare_teacher(
    preset: str,
    splits: DataSplits,
    *,
    model: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    tiny_overrides: dict[str, object] | None = None,
) -> Teacher:
    """The study's teacher: ``model`` if given, else the preset's (the tiny preset trains one
    on ``splits``, the ones the caller loaded from its :class:`~trainables.data.DataSpec`).

    ``tiny_overrides`` replaces fields of the preset's :class:`TinyTeacherConfig`; ``None``
    values (flags not given) keep the preset's.
    """
    spec = get_preset(preset)
    source = model or spec.model
    if source is not None:
        load_teacher(source)  # fail early, with a clear message, if it cannot be loaded
        return Teacher(str(source), {})
    assert spec.tiny is not None
    given = {k: v for k, v in (tiny_overrides or {}).items() if v is not None}
    cfg = TinyTeacherConfig(**{**spec.tiny.to_dict(), **given})
    return build_tiny_teacher(splits, cfg, cache_dir=cache_dir, progress=progress)

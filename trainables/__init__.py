"""Components of one compression trial, one job per module (plain PyTorch; only
``trainables.trainable.train_trial`` needs Ray):

- ``config``: the trial config, every key with its default and meaning;
- ``data``: find, clean, split and tokenize a dataset (``DataSpec`` says which and how);
- ``teacher`` / ``tiny_teacher``: load a fine-tuned teacher, or train the tiny one;
- ``pruning`` / ``compaction``: block movement pruning, and the genuinely smaller model after it;
- ``distillation``: the KD loss and the teacher's cached logits;
- ``evaluation`` / ``measure``: accuracy, interleaved timing, CodeCarbon energy;
- ``trainable``: one trial, top to bottom; ``metrics``: the names every layer shares.

Import from the module that owns a name; this package imports nothing itself, so
``python -m trainables.teacher`` and ``python -m trainables.bench_compaction`` start fast.

>>> from trainables.pruning import PruningConfig, prune_model  # doctest: +SKIP
>>> from trainables.compaction import compact_model  # doctest: +SKIP
"""

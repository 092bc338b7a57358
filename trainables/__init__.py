"""Components of one compression trial (plain PyTorch; only ``trainables.trial`` touches Ray).

- ``config`` / ``metrics`` / ``presets``: every trial key, every metric name, the two scales;
- ``data``: find, clean, split and tokenize a dataset (``DataSpec`` says which and how);
- ``teachers``: load a fine-tuned teacher, or train the tiny one;
- ``compress``: pruning, compaction, distillation, int8, vocabulary trimming;
- ``measure``: interleaved timing and CodeCarbon energy;
- ``trial``: one trial of each kind, top to bottom;
- ``commands``: the command-line tools (teacher, predict, export, bench).

Importing the package registers the compact model type with transformers' Auto classes, so a
folder a trial saved loads with ``AutoModelForSequenceClassification.from_pretrained`` and
``pipeline`` after ``import trainables``, with no remote code.
"""

from trainables.compress.compaction import register_compact_classes

register_compact_classes()

"""Teachers: a fine-tuned BERT-family classifier (hub id or local folder), or the tiny one.

- ``base``: the :class:`~trainables.teachers.base.Teacher` record, ``TeacherError``, the label
  order (``label2id_for``) and ``TEACHER_INFO``, shared by the modules below;
- ``load``: load a teacher folder or hub id (``load_teacher``), evaluate one (``evaluate_teacher``);
- ``tiny``: the tiny teacher's recipe (``build_tiny_teacher``: WordPiece, PPMI-SVD, n-gram KD);
- ``prepare``: the teacher of a study (``prepare_teacher``: a given one, or the preset's).

The command line is :mod:`trainables.commands.teacher`.
"""

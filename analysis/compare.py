"""``python -m analysis.compare CANDIDATE.npz BASELINE.npz``: two models' test predictions, paired.

Prints one JSON line (:func:`analysis.statistics.compare_predictions`): the unit (``distinct
texts`` when both files carry ``test_group``, else ``rows``), ``texts`` and ``rows``, both
accuracies, the difference with its 95% bootstrap interval over that unit, and the exact McNemar
p-value counting each text once. A file that cannot be read exits 2 with one line naming it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from analysis.statistics import compare_predictions

PROG = "python -m analysis.compare"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, compare the two files and print the JSON line; exit 2 on a bad file."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Paired comparison of two models' test predictions (npz files with test_pred, "
        "test_gold and test_group: a trial's predictions.npz or the teacher command's "
        "--predictions), over distinct test texts",
    )
    parser.add_argument("candidate", help="predictions of the model to compare")
    parser.add_argument("baseline", help="predictions of the reference model")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap draws")
    args = parser.parse_args(argv)
    try:
        result = compare_predictions(args.candidate, args.baseline, n_boot=args.n_boot)
    except ValueError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

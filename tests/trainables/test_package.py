"""What ``import trainables`` alone does: a fresh interpreter, nothing else imported first."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_importing_the_package_registers_the_compact_model_type(tmp_path):
    """A saved compact folder loads through the Auto classes and ``pipeline`` after
    ``import trainables`` only (no submodule named, no remote code)."""
    script = f"""
import torch, transformers
import trainables
from trainables.compress.compaction import compact_model, save_compact
from trainables.compress.pruning import PruningConfig, apply_threshold, prune_model

config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=64, num_labels=3)
torch.manual_seed(0)
model = prune_model(transformers.BertForSequenceClassification(config).eval(),
                    PruningConfig(block_shape=(16, 16), target_density=0.5))
apply_threshold(model, 0.5)
compact = compact_model(model).eval()
save_compact(compact, {str(tmp_path)!r})
loaded = transformers.AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r})
ids = torch.tensor([[2, 7, 9, 3]])
assert torch.allclose(loaded(input_ids=ids).logits, compact(input_ids=ids).logits, atol=1e-6)
print(type(loaded).__name__)
"""
    # the script imports compaction itself after `import trainables`; what it checks is that the
    # Auto classes already knew the type before any submodule was named: a second interpreter
    # that imports only the package and asks the Auto classes
    check = (
        "import transformers, trainables; "
        "print(transformers.AutoConfig.for_model('lowres-compact-bert').model_type)"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "lowres-compact-bert"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "CompactBertForSequenceClassification"

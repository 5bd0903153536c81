"""How the digits experiment is scored: a model's loss and accuracy on the held-out split.

Protected (``protected:`` in harness.yaml): a branch that changes this file changes how it
is judged, so its runs are never compared with the baseline's. Experiment branches change
``train.py``.
"""

import torch
from torch import nn


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, float, torch.Tensor]:
    """Validation loss (mean cross-entropy), accuracy, and the logits, in eval mode."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(1) == y).float().mean().item()
    model.train()
    return loss, accuracy, logits

"""What a reviewer looks at besides numbers: predictions, checkpoints, datasets.

wandb, numpy and torch are imported by the calls that need them, never at module import.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["artifact_name", "dataset_artifact", "predictions_table", "save_state"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def artifact_name(text: str) -> str:
    """A W&B artifact name: only ``[A-Za-z0-9._-]``, at most 128 characters."""
    return _UNSAFE.sub("-", text).strip("-.")[:128] or "artifact"


def _numpy(value: Any) -> Any:
    import numpy as np

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _looks_like_image(sample: Any) -> bool:
    shape = sample.shape
    if len(shape) == 2:
        return bool(min(shape) >= 2)
    if len(shape) == 3:
        return bool(shape[-1] in (1, 3, 4) or shape[0] in (1, 3))
    return False


def _image(sample: Any, wandb: Any) -> Any:
    import numpy as np

    if sample.ndim == 3 and sample.shape[0] in (1, 3) and sample.shape[-1] not in (1, 3, 4):
        sample = np.moveaxis(sample, 0, -1)  # CHW → HWC
    if sample.ndim == 3 and sample.shape[-1] == 1:
        sample = sample[..., 0]
    low, high = float(sample.min()), float(sample.max())
    scaled = (sample - low) / (high - low) if high > low else sample * 0
    return wandb.Image((scaled * 255).astype(np.uint8))


def predictions_table(
    inputs: Any,
    predictions: Any,
    targets: Any,
    *,
    limit: int,
    confidences: Any = None,
    class_names: Sequence[str] | None = None,
) -> Any:
    """A wandb.Table of sample predictions; inputs that look like images show as images."""
    import wandb

    xs, preds, ys = _numpy(inputs)[:limit], _numpy(predictions)[:limit], _numpy(targets)[:limit]
    confs = _numpy(confidences)[:limit] if confidences is not None else None
    as_images = len(xs) > 0 and _looks_like_image(xs[0])

    def label(value: Any) -> Any:
        item = value.item() if hasattr(value, "item") else value
        if class_names is not None and isinstance(item, int) and 0 <= item < len(class_names):
            return class_names[item]
        return item

    columns: list[str | int] = ["input", "prediction", "target", "correct"]
    if confs is not None:
        columns.append("confidence")
    table = wandb.Table(columns=columns)
    for i in range(min(len(xs), len(preds), len(ys))):
        shown = _image(xs[i], wandb) if as_images else str(xs[i].tolist())[:500]
        row = [shown, label(preds[i]), label(ys[i]), bool((preds[i] == ys[i]).all())]
        if confs is not None:
            row.append(float(confs[i]))
        table.add_data(*row)
    return table


def save_state(state: Any, path: Path) -> Path:
    """Write a checkpoint: an existing file is used as it is, anything else goes to torch.save."""
    if isinstance(state, (str, Path)) and Path(state).is_file():
        return Path(state)
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def dataset_artifact(
    name: str, data: Any, folder: Path, *, metadata: Mapping[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """A dataset artifact from a file, a folder, or named arrays (saved as .npy files).

    Returns the artifact and the record that goes into ``wandb.config["dataset"]``:
    name, W&B digest, file count and bytes, so every run says which data it used.
    """
    import wandb

    artifact = wandb.Artifact(artifact_name(name), type="dataset", metadata=dict(metadata or {}))
    if isinstance(data, Mapping):
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        for key, array in data.items():
            target = folder / f"{artifact_name(str(key))}.npy"
            np.save(target, _numpy(array), allow_pickle=False)  # .npy bytes are deterministic
            artifact.add_file(str(target), policy="immutable")  # ours, never rewritten
    else:
        path = Path(data)
        if path.is_dir():
            artifact.add_dir(str(path))
        elif path.is_file():
            artifact.add_file(str(path))
        else:
            raise FileNotFoundError(f"dataset {name!r}: no such file or folder: {path}")
    entries = list(artifact.manifest.entries.values())
    record = {
        "name": artifact.name,
        "digest": artifact.digest,
        "files": len(entries),
        "bytes": sum(int(e.size or 0) for e in entries),
    }
    return artifact, record

"""Classify 8x8 handwritten digits (scikit-learn's bundled copy) with a small MLP on CPU.

Run it through the harness (``launch-job --branch <branch>``) or by hand
(``python experiments/digits/train.py --hidden=64``). Experiment branches change the
hyperparameters below or the code itself; everything is logged through harness.tracking.
"""

import ast
import copy
import sys
import time
from pathlib import Path

# The installed harness when there is one (the local launcher's); else the repository's own
# copy (a W&B Launch agent runs this file from a fresh clone, where it is not installed).
sys.path.append(str(Path(__file__).resolve().parents[2]))

# -- hyperparameters: override with --name=value -------------------------------------------
hidden = 6  # width of each hidden layer
layers = 1  # number of hidden layers
lr = 0.05  # SGD learning rate
momentum = 0.9
weight_decay = 0.0
batch_size = 64
epochs = 15
eval_every = 1  # epochs between validations
val_fraction = 0.25  # held-out share of the 1,797 images (the split never depends on seed)
seed = 0  # the launcher's seed replaces this one
# -------------------------------------------------------------------------------------------

config = {
    k: v
    for k, v in dict(globals()).items()
    if not k.startswith("_") and isinstance(v, (int, float))
}
for arg in sys.argv[1:]:
    key, _, value = arg.removeprefix("--").partition("=")
    if key not in config:
        sys.exit(f"unknown hyperparameter {key!r}; known: {', '.join(config)}")
    config[key] = type(config[key])(ast.literal_eval(value))

import torch  # noqa: E402  (imported after argument checks, so a typo fails fast)
from evaluation import evaluate  # noqa: E402  (the protected scoring, next to this file)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from harness import tracking  # noqa: E402

run = tracking.init(config=config)
cfg = run.config
torch.manual_seed(cfg["seed"])
torch.set_num_threads(1)

digits = load_digits()
run.use_dataset(
    "sklearn-digits", {"images": digits.images.astype("uint8"), "labels": digits.target}
)
x_train, x_val, y_train, y_val = train_test_split(
    digits.data / 16.0,
    digits.target,
    test_size=cfg["val_fraction"],
    random_state=0,
    stratify=digits.target,
)
x_train, x_val = (
    torch.tensor(x_train, dtype=torch.float32),
    torch.tensor(x_val, dtype=torch.float32),
)
y_train, y_val = torch.tensor(y_train), torch.tensor(y_val)
# Each pixel standardized with the training split's statistics (+0.1 keeps the near-constant
# border pixels from being blown up): without it this small MLP's accuracy varies several
# times more from seed to seed.
mean, std = x_train.mean(0), x_train.std(0) + 0.1
x_train, x_val = (x_train - mean) / std, (x_val - mean) / std

width, blocks = 64, []
for _ in range(cfg["layers"]):
    blocks += [nn.Linear(width, cfg["hidden"]), nn.ReLU()]
    width = cfg["hidden"]
model = nn.Sequential(*blocks, nn.Linear(width, 10))
optimizer = torch.optim.SGD(
    model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"]
)
loss_fn = nn.CrossEntropyLoss()
run.watch(model, optimizer)  # gradient norms per layer and learning rate, at the log cadence


best_state, start = copy.deepcopy(model.state_dict()), time.perf_counter()
for epoch in range(cfg["epochs"]):
    order = torch.randperm(len(x_train))
    for i in range(0, len(order), cfg["batch_size"]):
        batch = order[i : i + cfg["batch_size"]]
        logits = model(x_train[batch])
        loss = loss_fn(logits, y_train[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        # Logs the window's mean loss and diagnostics every tracking.log_every steps; the
        # train accuracy is computed only for those steps.
        correct = (logits.argmax(1) == y_train[batch]).float().mean() if run.will_log else None
        run.step(
            loss,
            batch_size=len(batch),
            metrics={"train/accuracy": correct} if correct is not None else None,
        )
    if (epoch + 1) % cfg["eval_every"] == 0 or epoch + 1 == cfg["epochs"]:
        val_loss, val_accuracy, _ = evaluate(model, x_val, y_val)
        if run.log_validation(
            {"val/loss": val_loss, "val/accuracy": val_accuracy, "epoch": epoch + 1}
        ):
            best_state = copy.deepcopy(model.state_dict())
train_seconds, tracking_seconds = time.perf_counter() - start, run.overhead_s

run.save_checkpoint(best_state, aliases=["best"])
run.save_checkpoint(model.state_dict(), aliases=["latest"])
last_accuracy = val_accuracy
model.load_state_dict(best_state)  # after training: evaluate and show the best model
val_loss, val_accuracy, logits = evaluate(model, x_val, y_val)
run.log_validation({"val/loss": val_loss, "val/accuracy": val_accuracy}, final=True)
probabilities = logits.softmax(1)
run.log_predictions(
    x_val.view(-1, 8, 8), probabilities.argmax(1), y_val, confidences=probabilities.max(1).values
)
run.finish()

print(f"val/accuracy: {last_accuracy:.4f}")
print(f"best val/accuracy: {val_accuracy:.4f}")
print(f"steps: {run.global_step}")
print(f"train_seconds: {train_seconds:.3f}")
print(f"tracking_seconds: {tracking_seconds:.3f}")  # time inside tracking calls, in the loop

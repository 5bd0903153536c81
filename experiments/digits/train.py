"""Classify 8x8 handwritten digits (scikit-learn's bundled copy) with a small MLP on CPU.

Run it through the harness (``launch-job --branch <branch>``) or by hand
(``python experiments/digits/train.py --hidden=64``). Experiment branches change the
hyperparameters below or the code itself; everything is logged through harness.tracking.
"""

import ast
import sys
import time

# -- hyperparameters: override with --name=value -------------------------------------------
hidden = 8  # width of each hidden layer
layers = 1  # number of hidden layers
lr = 0.05  # SGD learning rate
momentum = 0.9
weight_decay = 0.0
batch_size = 64
epochs = 5
val_fraction = 0.25  # held-out share of the 1,797 images (the split never depends on seed)
seed = 0  # the launcher's seed replaces this one
log_every = 10  # steps between training-metric logs
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
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from harness import tracking  # noqa: E402

run = tracking.init(config=config)
cfg = run.config
torch.manual_seed(cfg["seed"])
torch.set_num_threads(1)

digits = load_digits()
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

width, blocks = 64, []
for _ in range(cfg["layers"]):
    blocks += [nn.Linear(width, cfg["hidden"]), nn.ReLU()]
    width = cfg["hidden"]
model = nn.Sequential(*blocks, nn.Linear(width, 10))
optimizer = torch.optim.SGD(
    model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"]
)
loss_fn = nn.CrossEntropyLoss()


def evaluate():
    model.eval()
    with torch.no_grad():
        logits = model(x_val)
        loss = loss_fn(logits, y_val).item()
        accuracy = (logits.argmax(1) == y_val).float().mean().item()
    model.train()
    return loss, accuracy


step, start = 0, time.perf_counter()
for epoch in range(cfg["epochs"]):
    order = torch.randperm(len(x_train))
    for i in range(0, len(order), cfg["batch_size"]):
        batch = order[i : i + cfg["batch_size"]]
        logits = model(x_train[batch])
        loss = loss_fn(logits, y_train[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % cfg["log_every"] == 0:
            accuracy = (logits.argmax(1) == y_train[batch]).float().mean().item()
            run.log(
                {"train/loss": loss.item(), "train/accuracy": accuracy, "epoch": epoch}, step=step
            )
        step += 1
    val_loss, val_accuracy = evaluate()
    run.log({"val/loss": val_loss, "val/accuracy": val_accuracy, "epoch": epoch}, step=step)
    print(f"epoch {epoch + 1}: val/loss {val_loss:.4f} val/accuracy {val_accuracy:.4f}")

run.finish()
print(f"val/accuracy: {val_accuracy:.4f}")
print(f"val/loss: {val_loss:.4f}")
print(f"steps: {step}")
print(f"train_seconds: {time.perf_counter() - start:.2f}")

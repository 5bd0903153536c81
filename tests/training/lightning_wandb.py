"""A Lightning script that logs through ``WandbLogger`` (a test fixture; no harness import).

A linear regression on synthetic data, 3 epochs of 8 batches on CPU. ``--seed N`` goes to
``lightning.seed_everything`` (the data never depends on it; the initial weights and the
batch order do). It logs ``val/loss`` from ``validation_step`` once per epoch and
``train/loss`` every 4 steps. ``--raise`` fails the run with ``RuntimeError: boom from
lightning`` in ``training_step`` at global step 10 (in the second epoch, after one
validation). ``WandbLogger`` is left at its defaults apart from ``project``, as ordinary
code would leave it (its ``save_dir="."`` puts the run under the working directory).
"""

import argparse
import logging
import warnings

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

RAISE_AT_STEP = 10

# Quiet output: Lightning's start-up lines (GPU available, a litlogger tip) and a torch 2.13
# deprecation that Lightning 2.6.6 triggers in its own code.
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
warnings.filterwarnings(
    "ignore", message=r"`isinstance\(treespec, LeafSpec\)`", category=FutureWarning
)


class Regressor(L.LightningModule):
    def __init__(self, fail: bool = False, lr: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        if self.hparams.fail and self.global_step == RAISE_AT_STEP:
            raise RuntimeError("boom from lightning")
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def data(n: int, generator: torch.Generator) -> TensorDataset:
    x = torch.randn(n, 8, generator=generator)
    w = torch.arange(1.0, 9.0).unsqueeze(1) / 8
    return TensorDataset(x, x @ w + 0.1 * torch.randn(n, 1, generator=generator))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raise", dest="fail", action="store_true")
    args = parser.parse_args()

    g = torch.Generator().manual_seed(1234)
    train, val = data(256, g), data(64, g)
    L.seed_everything(args.seed, verbose=False)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        logger=WandbLogger(project="harness-lightning"),
        log_every_n_steps=4,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(
        Regressor(fail=args.fail),
        DataLoader(train, batch_size=32, shuffle=True),
        DataLoader(val, batch_size=64),
    )
    print(f"lightning_wandb: seed {args.seed}, val/loss {trainer.callback_metrics['val/loss']:.4f}")


if __name__ == "__main__":
    main()

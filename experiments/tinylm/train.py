"""Train a tiny GPT-2 language model on synthetic counting sequences, on CPU, in seconds.

An ordinary Hugging Face ``Trainer`` script that logs to W&B through ``report_to=["wandb"]``
and knows nothing of the harness: the harness runs it as it is (launch.args in this folder's
harness.yaml pass ``--seed``), and W&B picks run id, group, tags and mode up from the
environment. Nothing is downloaded: the model is built from a config with random weights and
the data is generated here.

Each sequence counts modulo VOCAB from a random start with a random stride (1, 2 or 3):
the first token is unpredictable, the second reveals the stride up to a 1-in-3 guess, the
rest follow exactly, so a model that learns the rule gets far below chance (ln VOCAB).

    python experiments/tinylm/train.py --seed 1
    python experiments/tinylm/train.py --raise-at-step 5   # fails: RuntimeError at step 5
"""

import argparse
import math
import os
import tempfile

# Before transformers is imported: never reach for the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_PROJECT", "harness-tinylm")  # WandbCallback reads only this

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

VOCAB = 16
SEQ_LEN = 16
STRIDES = (1, 2, 3)
DATA_SEED = 1234  # the data never depends on --seed; model init and batch order do


def make_sequences(n: int, generator: torch.Generator) -> torch.Tensor:
    start = torch.randint(0, VOCAB, (n, 1), generator=generator)
    stride = torch.tensor(STRIDES)[torch.randint(0, len(STRIDES), (n, 1), generator=generator)]
    return (start + stride * torch.arange(SEQ_LEN)) % VOCAB


class Sequences(torch.utils.data.Dataset):
    def __init__(self, ids: torch.Tensor):
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}  # the model shifts labels


class RaiseAtStep(TrainerCallback):
    """Fails the run on purpose (``--raise-at-step``), to test how failed runs are shown."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise RuntimeError(f"failing on purpose at step {self.step} (--raise-at-step)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", help="default: a temporary folder, removed at exit")
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=2e-2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-steps", type=int, default=20)
    parser.add_argument("--raise-at-step", type=int, default=None, metavar="K")
    args = parser.parse_args()
    # Nothing is saved (save_strategy="no"), so the default folder is only a formality.
    with tempfile.TemporaryDirectory(prefix="tinylm-") as scratch:
        train(args, args.output_dir or scratch)


def train(args: argparse.Namespace, output_dir: str) -> None:
    torch.set_num_threads(1)  # tiny tensors: extra threads only add overhead

    data = make_sequences(2048 + 256, torch.Generator().manual_seed(DATA_SEED))
    train_set, eval_set = Sequences(data[:2048]), Sequences(data[2048:])

    set_seed(args.seed)  # the model is built before Trainer seeds anything
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=SEQ_LEN,
        n_embd=32,
        n_layer=1,
        n_head=2,
        resid_pdrop=0.0,  # no dropout: a few dozen steps, nothing to overfit
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(config)
    # The class name does not end in ForCausalLM, so transformers would warn that loss_type
    # None is unrecognized before falling back to this same loss.
    model.loss_type = "ForCausalLM"

    training_args = TrainingArguments(
        output_dir=output_dir,
        seed=args.seed,
        max_steps=args.max_steps,
        learning_rate=args.lr,
        warmup_steps=5,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=256,
        eval_strategy="steps",
        eval_steps=args.eval_steps,
        logging_steps=10,
        save_strategy="no",
        report_to=["wandb"],
        disable_tqdm=True,
        dataloader_pin_memory=False,
        use_cpu=True,
    )
    callbacks = [RaiseAtStep(args.raise_at_step)] if args.raise_at_step is not None else []
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        callbacks=callbacks,
    )
    trainer.train()
    metrics = trainer.evaluate()
    print(
        f"final eval_loss {metrics['eval_loss']:.4f} (chance ln({VOCAB}) = {math.log(VOCAB):.4f})"
    )


if __name__ == "__main__":
    main()

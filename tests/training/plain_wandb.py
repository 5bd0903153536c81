"""A plain ``wandb.init()`` training script (a test fixture; it does not import the harness).

It logs ``val/accuracy`` (higher is better) and ``val/loss`` for 20 steps. The values are
fixed functions of the seed, which it reads from ``wandb.config`` (the harness supplies
``seed`` through a ``config-defaults.yaml``; the script's own config keys win over that
file's), and they dip over the last three steps, so a run's best value is not its last:

    val/accuracy = 0.5 + 0.02 * step - 0.01 * seed  (0.1 lower for steps 17-19)
    val/loss     = 1 - val/accuracy

so the best accuracy is 0.82 - 0.01 * seed (step 16) and the last is 0.78 - 0.01 * seed.
``--raise`` fails the run with ``ValueError: boom from plain wandb`` after step 4.
Run by hand with ``WANDB_MODE=offline`` (nothing here turns it on).
"""

import argparse

import wandb

STEPS = 20


def accuracy(step: int, seed: int) -> float:
    dip = 0.1 if step >= STEPS - 3 else 0.0
    return round(0.5 + 0.02 * step - 0.01 * seed - dip, 6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raise", dest="fail", action="store_true", help="fail after step 4")
    args = parser.parse_args()

    with wandb.init(config={"lr": 0.05, "steps": STEPS, "model": "plain"}) as run:
        seed = int(run.config.get("seed", 0))
        print(f"plain_wandb: seed {seed}, lr {run.config['lr']}, run {run.id}")
        for step in range(STEPS):
            acc = accuracy(step, seed)
            run.log({"val/accuracy": acc, "val/loss": round(1.0 - acc, 6)}, step=step)
            if args.fail and step == 4:
                raise ValueError("boom from plain wandb")
        print(f"plain_wandb: last val/accuracy {acc}")


if __name__ == "__main__":
    main()

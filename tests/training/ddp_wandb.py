"""A torch.distributed (gloo, CPU) DDP script (a test fixture; it does not import the harness).

Run it as ``torchrun --nproc-per-node 2 tests/training/ddp_wandb.py``. Every rank calls
``wandb.init()`` unguarded, as careless DDP code does; the harness turns W&B off on ranks
above 0 itself (``WANDB_MODE=disabled``), so only rank 0's run is recorded. Each rank trains
the same DDP-wrapped linear layer for 5 steps and logs ``val/accuracy = 0.5 + 0.1 * rank +
0.01 * step``, so the values tell which rank a recorded run came from (rank 0 ends at 0.54).
"""

import os

import torch
import torch.distributed as dist
import wandb
from torch import nn
from torch.nn.parallel import DistributedDataParallel

STEPS = 5


def main() -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = DistributedDataParallel(nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(rank)

    run = wandb.init(config={"world_size": world, "lr": 0.1})
    mode = os.environ.get("WANDB_MODE", "")
    print(f"ddp_wandb: rank {rank} of {world}, WANDB_MODE={mode!r}, run {run.id}", flush=True)
    for step in range(STEPS):
        x = torch.randn(16, 4, generator=generator)
        loss = nn.functional.mse_loss(model(x), x.sum(dim=1, keepdim=True))
        optimizer.zero_grad()
        loss.backward()  # gradients are averaged across ranks here
        optimizer.step()
        run.log(
            {"val/accuracy": round(0.5 + 0.1 * rank + 0.01 * step, 6), "train/loss": loss.item()}
        )
    dist.barrier()
    run.finish()
    dist.destroy_process_group()
    print(f"ddp_wandb: rank {rank} done", flush=True)


if __name__ == "__main__":
    main()

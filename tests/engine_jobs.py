"""Job functions for tests/test_engine.py, in a module of their own so that worker processes can import them."""
import os
from pathlib import Path

import torch
from threadpoolctl import threadpool_info


def train_linear(seed: int, steps: int = 20, calls_dir: str | None = None, fail: bool = False) -> dict:
    """Fit a small torch.nn.Linear from `seed` for `steps` steps: its final loss, a weight checksum and its thread
    counts. With `calls_dir`, each call appends its process id to `calls_dir/seed=<seed>.calls`."""
    if calls_dir is not None:
        with open(Path(calls_dir) / f"seed={seed}.calls", 'a') as calls: calls.write(f"{os.getpid()}\n")
    if fail: raise ValueError(f"seed {seed} fails on purpose")
    torch.manual_seed(seed)
    model, x = torch.nn.Linear(8, 1), torch.randn(64, 8)
    y = x @ torch.randn(8, 1) + 0.1 * torch.randn(64, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return {'seed': seed, 'loss': loss.item(), 'checksum': model.weight.sum().item(),
            'torch_threads': torch.get_num_threads(),
            'pool_threads': sorted({pool['num_threads'] for pool in threadpool_info()})}


def needs_saved(seed: int, saved: list) -> dict:
    "Fails unless every path in `saved` exists when the job starts."
    missing = [path for path in saved if not Path(path).exists()]
    if missing: raise FileNotFoundError(f"not saved yet: {missing}")
    return {'seed': seed}


def tensor_result(seed: int) -> dict:
    "A result JSON cannot hold."
    return {'seed': seed, 'loss': torch.tensor(0.5)}

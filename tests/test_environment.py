"""The installed environment is CPU-only: torch is a CPU build and no CUDA (nvidia-*) package is installed."""
from importlib import metadata

import torch


def test_torch_is_cpu_build():
    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"


def test_no_cuda_packages():
    names = sorted({(d.metadata['Name'] or '').lower() for d in metadata.distributions()})
    cuda = [n for n in names if n.startswith('nvidia-') or n in ('triton', 'cuda-python')]
    assert not cuda, f"CUDA packages installed: {cuda}"
    assert 'torch' in names and 'sparse-tutor' in names

"""The installed environment is CPU-only (torch is a CPU build and no CUDA (nvidia-*) package is installed), and it
holds the versions constraints.txt pins: the ones these tests verify."""
import inspect
from importlib import metadata
from pathlib import Path

import scipy.stats
import torch

CONSTRAINTS = Path(__file__).resolve().parent.parent / 'constraints.txt'


def test_torch_is_cpu_build():
    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"


def test_no_cuda_packages():
    names = sorted({(d.metadata['Name'] or '').lower() for d in metadata.distributions()})
    cuda = [n for n in names if n.startswith('nvidia-') or n in ('triton', 'cuda-python')]
    assert not cuda, f"CUDA packages installed: {cuda}"
    assert 'torch' in names and 'sparse-tutor' in names


def _pins() -> dict:
    lines = (line.split('#')[0].strip() for line in CONSTRAINTS.read_text().splitlines())
    return dict(line.split('==') for line in lines if line)


def test_installed_versions_are_the_pinned_ones():
    pins = _pins()
    assert {'torch', 'scipy'} <= set(pins), f"{CONSTRAINTS} must pin torch and scipy, pins {pins}"
    installed = {name: metadata.version(name).split('+')[0] for name in pins}
    assert installed == pins, (f"installed {installed}, but {CONSTRAINTS.name} pins {pins}: "
                               "reinstall with scripts/_setup.sh (pip install -c constraints.txt ...)")


def test_scipy_bootstrap_takes_rng():
    "core.stats resamples with scipy.stats.bootstrap(rng=...), which scipy 1.15 introduced."
    assert 'rng' in inspect.signature(scipy.stats.bootstrap).parameters

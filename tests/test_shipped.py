"""Every shipped file (the checkpoints and circuits under sparse_tutor/assets/, listed with the command that makes each in
tests/shipped_files.json) is there and loads through the library's own loader. A missing or corrupt file fails, naming
the file and the command that makes it; it never skips."""
import json
from pathlib import Path

import pytest

from sparse_tutor.core.checkpoint import ASSETS_DIR, load_checkpoint
from sparse_tutor.circuits.prune import read_circuit
from sparse_tutor.experiments.representation import knob_sweep
from sparse_tutor.experiments.tracing import load_stability
from sparse_tutor.experiments.capstone_grid import load_grid
from sparse_tutor.experiments.capstone_code import code_task_gaps

MANIFEST = json.loads(Path(__file__).with_name('shipped_files.json').read_text())['files']
LOADERS = {
    'transformer': lambda path, make: load_checkpoint(path, kind='transformer', make=make).model,
    'mlp': lambda path, make: load_checkpoint(path, kind='mlp', make=make).model,
    'circuit': lambda path, make: read_circuit(path, make=make),
    'knob_sweep': lambda path, make: knob_sweep(path=path),
    'stability': lambda path, make: load_stability(path),
    'capstone_grid': lambda path, make: load_grid(path),
    'code_gaps': lambda path, make: code_task_gaps(path=path),
}


def test_manifest_lists_every_shipped_file():
    on_disk = sorted(p.relative_to(ASSETS_DIR).as_posix() for p in ASSETS_DIR.rglob('*') if p.is_file())
    unlisted = [name for name in on_disk if name not in MANIFEST]
    assert not unlisted, (f"files under {ASSETS_DIR} that tests/shipped_files.json does not list (add each with the "
                          f"command that makes it, or remove it): {unlisted}")
    unknown = sorted({entry['load'] for entry in MANIFEST.values()} - set(LOADERS))
    assert not unknown, f"tests/shipped_files.json names loaders this test does not know: {unknown}"


@pytest.mark.parametrize('name', sorted(MANIFEST))
def test_shipped_file_loads(name):
    entry, path = MANIFEST[name], ASSETS_DIR / name
    if not path.is_file():
        pytest.fail(f"shipped file missing: {path}; make it with `{entry['make']}`", pytrace=False)
    try: LOADERS[entry['load']](path, entry['make'])
    except ValueError as e: why = str(e)
    else: return
    hint = '' if entry['make'] in why else f"\nmake it with `{entry['make']}`"
    pytest.fail(f"shipped file {path} does not load: {why}{hint}", pytrace=False)


def test_a_missing_file_names_itself_and_its_command(tmp_path):
    "What the library says of a shipped file that is not there: the file, and the command that makes it."
    gone = tmp_path / 'dense.safetensors'
    with pytest.raises(ValueError, match=r"dense\.safetensors.*sparse-tutor ship-models --seeds 0"):
        load_checkpoint(gone, kind='transformer', make=MANIFEST['checkpoints/dense.safetensors']['make'])
    with pytest.raises(ValueError, match=r"sparse_bracket_counting\.safetensors.*sparse-tutor ship-circuits"):
        read_circuit(tmp_path / 'sparse_bracket_counting.safetensors',
                     make=MANIFEST['circuits/sparse_bracket_counting.safetensors']['make'])


def test_a_corrupt_file_names_itself_and_its_command(tmp_path):
    for name in ('checkpoints/sparse.safetensors', 'circuits/dense_set_or_string.safetensors'):
        entry, broken = MANIFEST[name], tmp_path / Path(name).name
        broken.write_bytes((ASSETS_DIR / name).read_bytes()[:200])          # cut short
        with pytest.raises(ValueError, match=rf"{broken.name}.*{entry['make']}"):
            LOADERS[entry['load']](broken, entry['make'])

"""Checkpoint storage: dense files keep today's format byte for byte (the shipped files load unchanged); sparse files
round-trip to float16 precision with exact zeros; a damaged sparse file names the file, the tensor and the command."""
import re

import pytest
import torch
from safetensors import safe_open

from sparse_tutor.core.checkpoint import (ASSETS_DIR, load_checkpoint, read_record, save_checkpoint, write_record)
from sparse_tutor.core.models import MLP, MLPConfig, Transformer, TransformerConfig, model_config_dict
from sparse_tutor.core.sparsity import sparsify_

MAKE = 'sparse-tutor ship-models'
Q = 'blocks.0.attn.q.weight'


def sparse_transformer(density: float = 0.05) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(vocab_size=20, n_ctx=8, d_model=32, n_layers=2, n_heads=2, d_head=16,
                                          d_mlp=64))
    for weight in model.sparsifiable_params().values(): sparsify_(weight, density)
    return model


def assert_fp16_copy(loaded, original):
    "Every weight of `loaded` is float32 and equals the original rounded to float16; zeros stay exact zeros."
    got, want = loaded.state_dict(), original.state_dict()
    assert list(got) == list(want)
    for name, weight in want.items():
        assert got[name].dtype == torch.float32 and torch.equal(got[name], weight.half().float()), name
    for name, weight in original.sparsifiable_params().items():
        assert torch.equal(got[name] != 0, weight != 0), name


def test_sparse_round_trip_transformer(tmp_path):
    model = sparse_transformer()
    path = save_checkpoint(model, tmp_path / 'sparse.safetensors', history={'loss': [2.0, 1.5]},
                           meta={'note': 'frontier'}, storage='sparse')
    loaded = load_checkpoint(path, kind='transformer', make=MAKE)
    assert_fp16_copy(loaded.model, model)
    assert loaded.history == {'loss': [2.0, 1.5]} and loaded.meta == {'note': 'frontier'}
    assert not loaded.model.training
    tokens = torch.randint(0, 20, (3, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad(): assert (loaded.model(tokens) - model(tokens)).abs().max() < 0.05
    with pytest.raises(ValueError, match="holds a 'transformer' model, expected a 'mlp' model"):
        load_checkpoint(path, kind='mlp')


def test_sparse_record_layout(tmp_path):
    model = sparse_transformer()
    tensors, record = read_record(save_checkpoint(model, tmp_path / 's.safetensors', storage='sparse'))
    assert record['format'] == 2 and record['kind'] == 'transformer'
    assert record['config'] == model_config_dict(model)['config']
    sparse_names = set(model.sparsifiable_params())
    for name, weight in model.state_dict().items():
        entry = record['tensors'][name]
        assert entry['shape'] == list(weight.shape)
        if name in sparse_names:
            assert entry['storage'] == 'sparse' and name not in tensors
            indices, values = tensors[f'{name}.indices'], tensors[f'{name}.values']
            assert indices.dtype == torch.int32 and values.dtype == torch.float16
            assert torch.equal(indices.long(), torch.nonzero(weight.reshape(-1)).reshape(-1))
            assert torch.equal(values, weight.reshape(-1)[indices.long()].half())
        else:
            assert entry['storage'] == 'float16' and tensors[name].dtype == torch.float16


def test_sparse_file_is_smaller(tmp_path):
    model = sparse_transformer(0.01)
    dense = save_checkpoint(model, tmp_path / 'd.safetensors')
    sparse = save_checkpoint(model, tmp_path / 's.safetensors', storage='sparse')
    assert sparse.stat().st_size * 4 < dense.stat().st_size


def test_sparse_round_trip_mlp(tmp_path):
    torch.manual_seed(0)
    mlp = MLP(MLPConfig(d_in=6, d_out=3, d_hidden=(16, 16)))
    for weight in mlp.sparsifiable_params().values(): sparsify_(weight, 0.25)
    loaded = load_checkpoint(save_checkpoint(mlp, tmp_path / 'mlp.safetensors', storage='sparse'), kind='mlp')
    assert_fp16_copy(loaded.model, mlp)


def test_dense_storage_is_todays_format(tmp_path):
    "storage='dense' writes exactly the format-1 file: the state dict as it is, with the same record."
    model = sparse_transformer()
    path = save_checkpoint(model, tmp_path / 'dense.safetensors', history={'loss': [1.0]}, meta={'a': 1})
    same = write_record(tmp_path / 'reference.safetensors', model.state_dict(),
                        {'format': 1, **model_config_dict(model), 'history': {'loss': [1.0]}, 'meta': {'a': 1}},
                        name='history/meta')
    assert path.read_bytes() == same.read_bytes()
    loaded = load_checkpoint(path).model.state_dict()
    for name, weight in model.state_dict().items(): assert torch.equal(loaded[name], weight), name


def test_shipped_sparse_checkpoint_loads_unchanged():
    path = ASSETS_DIR / 'checkpoints' / 'sparse.safetensors'
    assert path.is_file(), f"shipped checkpoint missing: {path} (make it with `{MAKE}`)"
    with safe_open(str(path), framework='pt') as f: raw = {name: f.get_tensor(name) for name in f.keys()}
    model = load_checkpoint(path, kind='transformer', make=MAKE).model
    loaded = model.state_dict()
    assert set(loaded) == set(raw)
    for name, tensor in raw.items(): assert torch.equal(loaded[name], tensor), name
    density = [float((w != 0).float().mean()) for w in model.sparsifiable_params().values()]
    assert max(density) < 0.1                          # the shipped sparse model is weight-sparse


def rewrite(path, out, change):
    "`out`: the checkpoint at `path` with `change(tensors, record)` applied."
    tensors, record = read_record(path)
    change(tensors, record)
    return write_record(out, tensors, record)


def swap_first_two(tensors, record): tensors[f'{Q}.indices'][[0, 1]] = tensors[f'{Q}.indices'][[1, 0]]
def repeat_first(tensors, record): tensors[f'{Q}.indices'][1] = tensors[f'{Q}.indices'][0]
def index_too_large(tensors, record): tensors[f'{Q}.indices'][-1] = 32 * 32
def negative_index(tensors, record): tensors[f'{Q}.indices'][0] = -1
def drop_value(tensors, record): tensors[f'{Q}.values'] = tensors[f'{Q}.values'][1:]
def wrong_shape(tensors, record): record['tensors'][Q]['shape'] = [32, 16]
def no_values(tensors, record): del tensors[f'{Q}.values']
def no_indices(tensors, record): del tensors[f'{Q}.indices']
def float32_values(tensors, record): tensors[f'{Q}.values'] = tensors[f'{Q}.values'].float()
def int64_indices(tensors, record): tensors[f'{Q}.indices'] = tensors[f'{Q}.indices'].long()
def no_layout_entry(tensors, record): del record['tensors'][Q]
def unknown_storage(tensors, record): record['tensors'][Q]['storage'] = 'zip'
def no_norm(tensors, record): del tensors['blocks.0.attn.norm.weight']


@pytest.mark.parametrize('change, tensor, problem', [
    (swap_first_two, Q, 'has indices that are not sorted and distinct'),
    (repeat_first, Q, 'has indices that are not sorted and distinct'),
    (index_too_large, Q, 'has indices outside [0, 1024)'),
    (negative_index, Q, 'has indices outside [0, 1024)'),
    (drop_value, Q, 'has 51 indices but 50 values'),
    (wrong_shape, Q, 'has shape [32, 16], its recorded config needs [32, 32]'),
    (no_values, Q, f"is missing its tensor '{Q}.values'"),
    (no_indices, Q, f"is missing its tensor '{Q}.indices'"),
    (float32_values, Q, f"has '{Q}.values' of dtype torch.float32, expected torch.float16"),
    (int64_indices, Q, f"has '{Q}.indices' of dtype torch.int64, expected torch.int32"),
    (no_layout_entry, Q, 'has no entry in the layout record'),
    (unknown_storage, Q, "has storage 'zip', expected 'sparse', 'float16' or 'exact'"),
    (no_norm, 'blocks.0.attn.norm.weight', "is missing its tensor 'blocks.0.attn.norm.weight'"),
])
def test_corrupt_sparse_file(tmp_path, change, tensor, problem):
    good = save_checkpoint(sparse_transformer(), tmp_path / 'good.safetensors', storage='sparse')
    bad = rewrite(good, tmp_path / 'bad.safetensors', change)
    message = f"path: {bad} is a corrupt sparse checkpoint: tensor '{tensor}' {problem}; make it with `{MAKE}`"
    with pytest.raises(ValueError, match=re.escape(message)): load_checkpoint(bad, make=MAKE)


def test_stray_tensor_or_bad_record(tmp_path):
    good = save_checkpoint(sparse_transformer(), tmp_path / 'good.safetensors', storage='sparse')
    stray = rewrite(good, tmp_path / 'stray.safetensors', lambda tensors, record: tensors.update(extra=torch.zeros(2)))
    with pytest.raises(ValueError, match=re.escape(f"{stray} is a corrupt sparse checkpoint: tensor 'extra' is not "
                                                   f"part of its recorded transformer model; make it with `{MAKE}`")):
        load_checkpoint(stray, make=MAKE)
    no_layout = rewrite(good, tmp_path / 'no_layout.safetensors', lambda tensors, record: record.pop('tensors'))
    with pytest.raises(ValueError, match=re.escape(f"{no_layout} has no valid layout of its tensors")):
        load_checkpoint(no_layout, make=MAKE)
    future = rewrite(good, tmp_path / 'future.safetensors', lambda tensors, record: record.update(format=3))
    with pytest.raises(ValueError, match=re.escape(f"{future} has checkpoint format 3, expected 1 (dense) or 2 "
                                                   f"(sparse); make it with `{MAKE}`")):
        load_checkpoint(future, make=MAKE)


def test_bad_storage_arguments(tmp_path):
    model = sparse_transformer()
    with pytest.raises(ValueError, match=r"storage: expected one of \['dense', 'sparse'\], got 'fp16'"):
        save_checkpoint(model, tmp_path / 'x.safetensors', storage='fp16')
    with pytest.raises(TypeError, match='storage: expected one of'):
        save_checkpoint(model, tmp_path / 'x.safetensors', storage=2)
    with torch.no_grad(): model.embed.weight[0, 0] = 1e6
    with pytest.raises(ValueError, match="model: embed.weight has entries beyond float16's range .*storage='dense'"):
        save_checkpoint(model, tmp_path / 'x.safetensors', storage='sparse')
    assert not (tmp_path / 'x.safetensors').exists()

"""Bad input to models, training and checkpoints: a clear ValueError/TypeError naming the argument."""
import pytest
import torch

from sparse_tutor.core.models import MLP, MLPConfig, Transformer, TransformerConfig, build_model, scale_nodes
from sparse_tutor.core.train import TrainConfig, train, bce_loss
from sparse_tutor.core.checkpoint import save_checkpoint, load_checkpoint


def small_tf():
    torch.manual_seed(0)
    return Transformer(TransformerConfig(vocab_size=10, n_ctx=8, d_model=16, d_mlp=32, n_heads=2, d_head=8))


@pytest.mark.parametrize('kwargs, arg', [
    (dict(d_in=0, d_out=1), 'd_in'), (dict(d_in=3, d_out=1, d_hidden=()), 'd_hidden'),
    (dict(d_in=3, d_out=1, d_hidden=(4, -1)), 'd_hidden[1]'), (dict(d_in=3, d_out=1, init_scale=float('nan')), 'init_scale'),
    (dict(d_in='3', d_out=1), 'd_in'),
])
def test_mlp_config_bad(kwargs, arg):
    with pytest.raises((ValueError, TypeError), match=arg.replace('[', r'\[').replace(']', r'\]')): MLPConfig(**kwargs)


@pytest.mark.parametrize('kwargs, arg', [(dict(vocab_size=0), 'vocab_size'), (dict(vocab_size=5, n_heads=0), 'n_heads'),
                                         (dict(vocab_size=5, attn_sink='yes'), 'attn_sink')])
def test_transformer_config_bad(kwargs, arg):
    with pytest.raises((ValueError, TypeError), match=arg): TransformerConfig(**kwargs)


def test_forward_bad_inputs():
    tf = small_tf()
    with pytest.raises(TypeError, match='tokens: expected an integer'): tf(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='tokens: expected ids in'): tf(torch.full((2, 3), 10))
    with pytest.raises(ValueError, match='tokens: expected at most n_ctx=8'): tf(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(ValueError, match='tokens: expected a 2-D'): tf(torch.zeros(9, dtype=torch.long))
    mlp = MLP(MLPConfig(d_in=3, d_out=1))
    with pytest.raises(ValueError, match='x: expected a tensor without NaN, got 6 NaN'): mlp(torch.full((2, 3), float('nan')))
    with pytest.raises(TypeError, match='x: expected a torch.Tensor'): mlp([[1.0, 2.0, 3.0]])


def test_hooks_bad():
    tf = small_tf()
    toks = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match='unknown hook name'): tf.run_with_cache(toks, names=['blocks.7.hook_resid_pre'])
    with pytest.raises(TypeError, match='expected a callable'): tf.run_with_hooks(toks, hooks={'hook_embed': 3})
    assert all(not h.fns for h in tf.hook_points.values())  # nothing left behind after the error
    with pytest.raises(TypeError, match='nodes'): scale_nodes(nodes='abc')


def test_build_model_bad():
    with pytest.raises(ValueError, match='kind'): build_model('lstm', {})
    with pytest.raises(TypeError, match='config'): build_model('mlp', [1, 2])


@pytest.mark.parametrize('kwargs, err, msg', [
    (dict(target_density=0.0), ValueError, r'^target_density: expected a finite number in \(0, 1\], got 0.0'),
    (dict(target_density=1.01), ValueError, r'^target_density: expected a finite number in \(0, 1\], got 1.01'),
    (dict(target_density=float('nan')), ValueError, r'^target_density: .*got nan'),
    (dict(lr=-1.0), ValueError, r'^lr: expected a finite number in \(0, 10\], got -1.0'),
    (dict(steps=2.5), TypeError, r'^steps: expected an int >= 1, got float 2.5'),
    (dict(batch_size=0), ValueError, r'^batch_size: expected an int >= 1, got 0'),
    (dict(anneal_frac=2.0), ValueError, r'^anneal_frac: expected a finite number in \[0, 1\], got 2.0'),
    (dict(decay='exp'), ValueError, r"^decay: expected one of \['none', 'linear', 'cosine'\], got 'exp'"),
    (dict(progress='yes'), TypeError, r"^progress: expected a bool, got str 'yes'"),
])
def test_train_config_bad(kwargs, err, msg):
    with pytest.raises(err, match=msg): TrainConfig(**kwargs)


def test_train_bad_data():
    mlp = MLP(MLPConfig(d_in=3, d_out=1))
    x, y = torch.randn(8, 3), torch.ones(8, 1)
    cfg = TrainConfig(steps=2, progress=False)
    with pytest.raises(ValueError, match='same first dimension'): train(mlp, {'x': x, 'y': y[:4]}, bce_loss(), cfg)
    with pytest.raises(ValueError, match=r"data\['x'\]: expected a tensor without NaN, got 24 NaN"):
        train(mlp, {'x': x * float('nan'), 'y': y}, bce_loss(), cfg)
    with pytest.raises(TypeError, match='data: expected a non-empty dict'): train(mlp, [x, y], bce_loss(), cfg)
    with pytest.raises(TypeError, match='loss_fn'): train(mlp, {'x': x, 'y': y}, 'bce', cfg)
    with pytest.raises(TypeError, match='cfg'): train(mlp, {'x': x, 'y': y}, bce_loss(), {'steps': 2})


def test_checkpoint_corrupt_or_other_model(tmp_path):
    tf = small_tf()
    p = save_checkpoint(tf, tmp_path / 'tf.safetensors', history={'loss': [1.0]})
    assert load_checkpoint(p, kind='transformer').history == {'loss': [1.0]}
    with pytest.raises(ValueError, match="holds a 'transformer' model, expected a 'mlp'"): load_checkpoint(p, kind='mlp')
    # truncated file
    bad = tmp_path / 'truncated.safetensors'; bad.write_bytes(p.read_bytes()[:100])
    with pytest.raises(ValueError, match='path: .* is not a readable sparse_tutor checkpoint'): load_checkpoint(bad)
    # a safetensors file written by someone else
    from safetensors.torch import save_file
    other = tmp_path / 'other.safetensors'; save_file({'w': torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match='not a sparse_tutor checkpoint'): load_checkpoint(other)
    # weights that do not fit the recorded config
    import json
    from safetensors import safe_open
    with safe_open(str(p), framework='pt') as f: meta = f.metadata()
    rec = json.loads(meta['sparse_tutor']); rec['config']['d_model'] = 32
    save_file({k: v.contiguous() for k, v in tf.state_dict().items()}, str(tmp_path / 'mismatch.safetensors'), metadata={'sparse_tutor': json.dumps(rec)})
    with pytest.raises(ValueError, match='do not fit'): load_checkpoint(tmp_path / 'mismatch.safetensors')
    with pytest.raises(ValueError, match='path: no sparse_tutor checkpoint at'): load_checkpoint(tmp_path / 'nope.safetensors')
    with pytest.raises(TypeError, match='JSON'): save_checkpoint(tf, tmp_path / 'x.safetensors', history={'f': object()})

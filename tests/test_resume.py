"""Resumable training: an interrupted run resumed from its checkpoint ends bit for bit where an uninterrupted run
ends; a finished state returns without training; a checkpoint of another run, or a damaged one, is a ValueError."""
import re
from dataclasses import replace

import pytest
import torch

from sparse_tutor.core.models import MLP, MLPConfig, Transformer, TransformerConfig
from sparse_tutor.core.train import TrainConfig, bce_loss, next_token_loss, train

TINY = TransformerConfig(vocab_size=12, n_ctx=8, d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32)
TOKENS = torch.randint(0, 12, (70, 9), generator=torch.Generator().manual_seed(0))
LM_DATA = {'tokens': TOKENS[:, :-1], 'targets': TOKENS[:, 1:]}
CONFIGS = {
    'dense': TrainConfig(steps=40, batch_size=16, lr=3e-3, warmup_frac=0.1, decay='cosine', log_every=5,
                         progress=False),
    'sparse': TrainConfig(steps=40, batch_size=16, lr=1e-2, eps=0.1, grad_rms_norm=True, warmup_frac=0.1,
                          decay='cosine', target_density=0.2, anneal_frac=0.5, floor=1, log_every=5, seed=3,
                          progress=False),
}


def tiny_transformer(seed: int) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(TINY)


def stop_at(step: int):
    "A callback that interrupts training at `step` (callbacks run every log_every steps)."
    def callback(done, model):
        if done == step: raise KeyboardInterrupt
    return callback


def assert_same_weights(a, b):
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for name in state_a: assert torch.equal(state_a[name], state_b[name]), name


def without_seconds(hist: dict) -> dict:
    return {key: value for key, value in hist.items() if key != 'seconds'}


@pytest.mark.parametrize('variant', list(CONFIGS))
def test_resumed_run_equals_uninterrupted_run(variant, tmp_path):
    cfg = CONFIGS[variant]
    whole = tiny_transformer(0)
    hist_whole = train(whole, LM_DATA, next_token_loss(), cfg)
    path = tmp_path / 'run.pt'
    # two interruptions: at step 25 (last state at step 21) and at step 35 (last state at step 28, mid log interval)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_transformer(0), LM_DATA, next_token_loss(), cfg, callback=stop_at(25), checkpoint=path,
              checkpoint_every=7)
    assert torch.load(path, weights_only=True)['step'] == 21
    with pytest.raises(KeyboardInterrupt):
        train(tiny_transformer(5), LM_DATA, next_token_loss(), cfg, callback=stop_at(35), checkpoint=path,
              checkpoint_every=7)
    state = torch.load(path, weights_only=True)
    assert state['step'] == 28 and len(state['pending']['losses']) == 3
    resumed = tiny_transformer(6)                     # another initialisation: the weights come from the file
    hist_resumed = train(resumed, LM_DATA, next_token_loss(), cfg, checkpoint=path, checkpoint_every=7)
    assert_same_weights(resumed, whole)
    assert hist_resumed['loss'] == hist_whole['loss']
    assert without_seconds(hist_resumed) == without_seconds(hist_whole)
    assert hist_resumed['seconds'] > state['history']['seconds'] > 0      # seconds add up over the sessions
    if cfg.sparse:
        density = [float((w != 0).float().mean()) for w in resumed.sparsifiable_params().values()]
        assert max(density) < 0.25                   # the sparse run really is sparse at the end
    final = torch.load(path, weights_only=True)
    assert final['step'] == cfg.steps and final['history']['loss'] == hist_whole['loss']


def test_resumed_mlp_with_eval_and_metrics(tmp_path):
    "An MLP whose batch is the whole data set (one batch per epoch), with eval_fn every 6 steps and accuracy metrics."
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 2, (50, 3), generator=gen).float()
    data = {'x': x, 'y': (x[:, :1] != x[:, 1:2]).float()}
    cfg = TrainConfig(steps=30, batch_size=64, lr=1e-2, log_every=4, eval_every=6, progress=False)
    evaluate = lambda model: {'acc': ((model(x) > 0).float() == data['y']).float().mean()}   # noqa: E731

    def fresh(seed):
        torch.manual_seed(seed)
        return MLP(MLPConfig(d_in=3, d_out=1, d_hidden=(8,)))
    whole = fresh(0)
    hist_whole = train(whole, data, bce_loss(), cfg, eval_fn=evaluate)
    path = tmp_path / 'mlp.pt'
    with pytest.raises(KeyboardInterrupt):
        train(fresh(0), data, bce_loss(), cfg, eval_fn=evaluate, callback=stop_at(20), checkpoint=path,
              checkpoint_every=9)
    resumed = fresh(1)
    hist_resumed = train(resumed, data, bce_loss(), cfg, eval_fn=evaluate, checkpoint=path, checkpoint_every=9)
    assert_same_weights(resumed, whole)
    assert without_seconds(hist_resumed) == without_seconds(hist_whole)
    assert [record['step'] for record in hist_resumed['eval']] == [6, 12, 18, 24, 30]


def test_finished_state_returns_without_training(tmp_path):
    path = tmp_path / 'done.pt'
    cfg = TrainConfig(steps=12, batch_size=16, log_every=4, progress=False)
    first = tiny_transformer(0)
    hist_first = train(first, LM_DATA, next_token_loss(), cfg, checkpoint=path)
    assert torch.load(path, weights_only=True)['step'] == 12

    def no_step(model, batch): raise AssertionError('a finished run took a training step')
    again = tiny_transformer(1)
    hist_again = train(again, LM_DATA, no_step, replace(cfg, progress=True), checkpoint=path)
    assert_same_weights(again, first)
    assert hist_again['loss'] == hist_first['loss'] and hist_again['seconds'] == hist_first['seconds']
    assert not again.training


def test_without_checkpoint_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train(tiny_transformer(0), LM_DATA, next_token_loss(), TrainConfig(steps=3, batch_size=16, progress=False))
    assert list(tmp_path.iterdir()) == []


def test_state_file_is_written_atomically(tmp_path):
    path = tmp_path / 'states' / 'run.pt'
    train(tiny_transformer(0), LM_DATA, next_token_loss(), TrainConfig(steps=6, batch_size=16, progress=False),
          checkpoint=path, checkpoint_every=2)
    assert [p.name for p in path.parent.iterdir()] == ['run.pt']      # no temporary file left behind


@pytest.fixture
def finished(tmp_path):
    "A checkpoint written by a finished 6-step run, and that run's config."
    path, cfg = tmp_path / 'run.pt', TrainConfig(steps=6, batch_size=16, lr=1e-3, log_every=3, progress=False)
    train(tiny_transformer(0), LM_DATA, next_token_loss(), cfg, checkpoint=path)
    return path, cfg


@pytest.mark.parametrize('change, differs', [
    (lambda cfg, model, data: (replace(cfg, lr=2e-3), model, data), 'cfg.lr: 0.001 in the file, 0.002 now'),
    (lambda cfg, model, data: (replace(cfg, steps=8), model, data), 'cfg.steps: 6 in the file, 8 now'),
    (lambda cfg, model, data: (cfg, Transformer(replace(TINY, d_mlp=16)), data), 'model.d_mlp: 32 in the file, 16 now'),
    (lambda cfg, model, data: (cfg, MLP(MLPConfig(d_in=2, d_out=1)), data), "model kind: 'transformer' in the file"),
    (lambda cfg, model, data: (cfg, model, {key: value[:60] for key, value in data.items()}),
     'examples in data: 70 in the file, 60 now'),
])
def test_checkpoint_of_another_run(finished, change, differs):
    path, cfg = finished
    cfg, model, data = change(cfg, tiny_transformer(0), LM_DATA)
    with pytest.raises(ValueError) as info: train(model, data, next_token_loss(), cfg, checkpoint=path)
    message = str(info.value)
    assert message.startswith(f"checkpoint: {path} is the state of a different run (")
    assert differs in message and message.endswith('delete the file to restart training')


@pytest.mark.parametrize('damage, says', [
    (lambda blob: blob[:len(blob) // 2], 'is not a readable training state'),
    (lambda blob: blob[:-40], 'is not a readable training state'),
    (lambda blob: b'', 'is not a readable training state'),
    (lambda blob: b'not a training state at all', 'is not a readable training state'),
])
def test_damaged_checkpoint(finished, damage, says):
    path, cfg = finished
    path.write_bytes(damage(path.read_bytes()))
    pattern = f"checkpoint: {re.escape(str(path))} {says} .*; delete the file to restart training"
    with pytest.raises(ValueError, match=pattern):
        train(tiny_transformer(0), LM_DATA, next_token_loss(), cfg, checkpoint=path)


def test_foreign_or_tampered_state(finished):
    path, cfg = finished
    torch.save({'weights': torch.ones(2)}, path)
    with pytest.raises(ValueError, match=r"is not a sparse_tutor training state \(format None, missing \['batches'"):
        train(tiny_transformer(0), LM_DATA, next_token_loss(), cfg, checkpoint=path)
    train(tiny_transformer(0), LM_DATA, next_token_loss(), replace(cfg, steps=3), checkpoint=path.with_name('b.pt'))
    state = torch.load(path.with_name('b.pt'), weights_only=True)
    state['step'] = 4                                  # beyond the 3 steps its config trains
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"records step 4, expected an int in \[0, 3\]"):
        train(tiny_transformer(0), LM_DATA, next_token_loss(), replace(cfg, steps=3), checkpoint=path)
    state['step'] = 3
    state['model']['blocks.0.attn.q.weight'] = torch.zeros(4, 4)
    torch.save(state, path)
    with pytest.raises(ValueError, match='the weights in .* do not fit the model; delete the file'):
        train(tiny_transformer(0), LM_DATA, next_token_loss(), replace(cfg, steps=3), checkpoint=path)


def test_bad_checkpoint_arguments(tmp_path):
    cfg = TrainConfig(steps=2, batch_size=16, progress=False)
    args = (tiny_transformer(0), LM_DATA, next_token_loss(), cfg)
    with pytest.raises(ValueError, match='checkpoint_every: expected 0 without a checkpoint path, got 5'):
        train(*args, checkpoint_every=5)
    with pytest.raises(ValueError, match='checkpoint_every: expected an int >= 0, got -1'):
        train(*args, checkpoint=tmp_path / 'a.pt', checkpoint_every=-1)
    with pytest.raises(TypeError, match='checkpoint_every: expected an int >= 0, got float 2.5'):
        train(*args, checkpoint=tmp_path / 'a.pt', checkpoint_every=2.5)
    with pytest.raises(TypeError, match=r'checkpoint: expected a file path \(str or Path\), got int 3'):
        train(*args, checkpoint=3)
    assert not (tmp_path / 'a.pt').exists()

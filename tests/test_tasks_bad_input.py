"""Bad input to the tasks (sparse_tutor.core.tasks, .code_language, .code_tasks): a ValueError or TypeError that names the
argument, what was expected and what came."""
import numpy as np
import pytest
import torch

from sparse_tutor.core.tasks import CipherTask, EasyHardTask, decrypt, encrypt, get_task, list_tasks, one_hot_pair, register_task
from sparse_tutor.core.code_language import VOCAB, decision_points, detokenize, prompt_split, sample_program, tokenize
from sparse_tutor.core.code_tasks import (BracketCountingTask, CodeLMTask, MinimalPairs, at_last, logit_diff,
                                          minimal_pair_accuracy)

PAIRS = ['bracket_counting', 'single_double_quote', 'set_or_string']


def _batch():
    return get_task('bracket_counting').sample(4, seed=0)


CASES = [
    # registry
    ('unknown task', lambda: get_task('parity_task'), ValueError, 'name'),
    ('task name not a str', lambda: get_task(3), TypeError, 'name'),
    ('empty name to register', lambda: register_task(''), ValueError, 'name'),
    ('name to register not a str', lambda: register_task(7), TypeError, 'name'),
    # easy / hard
    ('n_bits too small', lambda: EasyHardTask(n_bits=1), ValueError, 'n_bits'),
    ('n_bits a str', lambda: EasyHardTask(n_bits='16'), TypeError, 'n_bits'),
    ('n_bits a float', lambda: EasyHardTask(n_bits=16.0), TypeError, 'n_bits'),
    ('bit out of range', lambda: EasyHardTask(n_bits=4, features=(('e', 'linear', (4,)),)), ValueError, 'features'),
    ('negative bit', lambda: EasyHardTask(features=(('e', 'linear', (-1,)),)), ValueError, 'features'),
    ('bit not an int', lambda: EasyHardTask(features=(('e', 'linear', (1.5,)),)), TypeError, 'features'),
    ('unknown feature kind', lambda: EasyHardTask(features=(('e', 'xor', (0, 1)),)), ValueError, 'features'),
    ('no features', lambda: EasyHardTask(features=()), ValueError, 'features'),
    ('features not a sequence', lambda: EasyHardTask(features=3), TypeError, 'features'),
    ('feature not a triple', lambda: EasyHardTask(features=(('e', 'linear'),)), ValueError, 'features'),
    ('duplicate feature names', lambda: EasyHardTask(features=(('e', 'linear', (0,)), ('e', 'parity', (1, 2)))),
     ValueError, 'features'),
    ('repeated bit', lambda: EasyHardTask(features=(('h', 'parity', (1, 1)),)), ValueError, 'features'),
    ('n zero', lambda: EasyHardTask().sample(0, seed=0), ValueError, 'n'),
    ('n negative', lambda: EasyHardTask().sample(-5, seed=0), ValueError, 'n'),
    ('n a float', lambda: EasyHardTask().sample(2.5, seed=0), TypeError, 'n'),
    ('seed negative', lambda: EasyHardTask().sample(4, seed=-1), ValueError, 'seed'),
    ('seed a str', lambda: EasyHardTask().sample(4, seed='0'), TypeError, 'seed'),
    ('split unknown', lambda: EasyHardTask().sample(4, seed=0, split='val'), ValueError, 'split'),
    ('split not a str', lambda: EasyHardTask().sample(4, seed=0, split=None), TypeError, 'split'),
    ('labels of wrong width', lambda: EasyHardTask(n_bits=8).labels(torch.ones(3, 5)), ValueError, 'x'),
    ('all_inputs too many bits', lambda: EasyHardTask(n_bits=30).all_inputs(), ValueError, 'n_bits'),
    # cipher
    ('p too small', lambda: CipherTask(p=1), ValueError, 'p'),
    ('p a float', lambda: CipherTask(p=23.0), TypeError, 'p'),
    ('fixed_keys not a pair', lambda: CipherTask(p=5, fixed_keys=(1,)), ValueError, 'fixed_keys'),
    ('fixed key out of range', lambda: CipherTask(p=5, fixed_keys=(1, 5)), ValueError, 'fixed_keys'),
    ('cipher n zero', lambda: CipherTask().sample(0, seed=0), ValueError, 'n'),
    ('cipher split unknown', lambda: CipherTask().sample(4, seed=0, split='dev'), ValueError, 'split'),
    ('encrypt p too small', lambda: encrypt(0, 0, 1), ValueError, 'p'),
    ('plaintext out of range', lambda: encrypt(5, 1, 5), ValueError, 'x'),
    ('plaintext a float', lambda: encrypt(1.5, 1, 5), TypeError, 'x'),
    ('plaintext float tensor', lambda: encrypt(torch.tensor([1.0]), 1, 5), TypeError, 'x'),
    ('key out of range', lambda: encrypt(1, -1, 5), ValueError, 'key'),
    ('key shape mismatch', lambda: encrypt([1, 2], [1, 2, 3], 5), ValueError, 'key'),
    ('ciphertext out of range', lambda: decrypt([7], [1], 5), ValueError, 'c'),
    ('one_hot_pair 2-D', lambda: one_hot_pair([[1]], [[1]], 5), ValueError, 'u'),
    ('one_hot_pair lengths differ', lambda: one_hot_pair([1, 2], [1], 5), ValueError, 'v'),
    ('one_hot_pair out of range', lambda: one_hot_pair([1, 2], [1, 9], 5), ValueError, 'v'),
    # vocabulary
    ('tokenize not a str', lambda: tokenize(['x', '=']), TypeError, 'text'),
    ('unknown token', lambda: tokenize('x = [ foo ] ;'), ValueError, 'text'),
    ('token id out of range', lambda: detokenize([1, len(VOCAB)]), ValueError, 'ids'),
    ('ids a str', lambda: detokenize('x = 1'), TypeError, 'ids'),
    ('ids a 2-D tensor', lambda: detokenize(torch.ones(2, 2, dtype=torch.long)), ValueError, 'ids'),
    ('prompt_split float ids', lambda: prompt_split([1, 2.5]), TypeError, 'tokens'),
    ('decision_points not a sequence', lambda: decision_points(3), TypeError, 'tokens'),
    ('sample_program rng a str', lambda: sample_program('seed'), TypeError, 'rng'),
    ('sample_program no statements', lambda: sample_program(0, n_statements=0), ValueError, 'n_statements'),
    ('sample_program split unknown', lambda: sample_program(0, split='dev'), ValueError, 'split'),
    # code language model corpus
    ('code_lm n_ctx too small', lambda: CodeLMTask(n_ctx=10), ValueError, 'n_ctx'),
    ('code_lm n_ctx a float', lambda: CodeLMTask(n_ctx=48.0), TypeError, 'n_ctx'),
    ('code_lm n zero', lambda: CodeLMTask().sample(0, seed=0), ValueError, 'n'),
    ('code_lm split unknown', lambda: CodeLMTask().sample(2, seed=0, split='valid'), ValueError, 'split'),
    ('code_lm unknown kwarg', lambda: get_task('code_lm', n_ctxx=48), TypeError, 'n_ctxx'),
    # scoring
    ('batch not MinimalPairs', lambda: minimal_pair_accuracy(torch.zeros(4, len(VOCAB)), {'tokens': 0}), TypeError, 'batch'),
    ('logits not a tensor', lambda: minimal_pair_accuracy(np.zeros((4, len(VOCAB))), _batch()), TypeError, 'logits_at_last'),
    ('logits [n, T, V] to minimal_pair_accuracy', lambda: minimal_pair_accuracy(torch.zeros(4, 30, len(VOCAB)), _batch()),
     ValueError, 'logits_at_last'),
    ('logits for the wrong n', lambda: logit_diff(torch.zeros(5, len(VOCAB)), _batch()), ValueError, 'logits_at_last'),
    ('logits too few classes', lambda: logit_diff(torch.zeros(4, 3), _batch()), ValueError, 'logits_at_last'),
    ('at_last 2-D logits', lambda: at_last(torch.zeros(4, len(VOCAB)), _batch()), ValueError, 'logits'),
    ('prompt index out of range', lambda: _batch().prompt(4), ValueError, 'i'),
]
# every minimal-pair task: odd n, n <= 0, bad n_ctx / max_len, bad split and seed
for _name in PAIRS:
    CASES += [
        (f'{_name} n odd', lambda t=_name: get_task(t).sample(7, seed=0), ValueError, 'n'),
        (f'{_name} n zero', lambda t=_name: get_task(t).sample(0, seed=0), ValueError, 'n'),
        (f'{_name} n negative', lambda t=_name: get_task(t).sample(-2, seed=0), ValueError, 'n'),
        (f'{_name} n a float', lambda t=_name: get_task(t).sample(4.0, seed=0), TypeError, 'n'),
        (f'{_name} split unknown', lambda t=_name: get_task(t).sample(4, seed=0, split='validation'), ValueError, 'split'),
        (f'{_name} seed negative', lambda t=_name: get_task(t).sample(4, seed=-3), ValueError, 'seed'),
        (f'{_name} n_ctx below max_len', lambda t=_name: get_task(t, n_ctx=30), ValueError, 'n_ctx'),
        (f'{_name} max_len too small', lambda t=_name: get_task(t, max_len=10), ValueError, 'max_len'),
    ]


@pytest.mark.parametrize('what,fn,exc,arg', CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_the_argument(what, fn, exc, arg):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert msg.startswith(arg), f"{what}: message should start with the argument {arg!r}: {msg!r}"
    assert 'expected' in msg and 'got' in msg, f"{what}: message should say what was expected and what came: {msg!r}"


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        get_task('no_such_task')
    msg = str(info.value)
    assert "'no_such_task'" in msg
    for name in list_tasks():
        assert name in msg
    assert {'easy_hard', 'cipher', 'bracket_counting', 'single_double_quote', 'set_or_string', 'code_lm'} <= set(list_tasks())


def test_unknown_token_is_named():
    with pytest.raises(ValueError) as info:
        tokenize('x = [ 1 , banana ] ;')
    assert "'banana'" in str(info.value)


def test_odd_n_message_explains_pairs():
    with pytest.raises(ValueError) as info:
        BracketCountingTask().sample(5, seed=0)
    assert 'even' in str(info.value) and 'got 5' in str(info.value)


def test_good_input_after_bad_input_still_works():
    """A rejected call leaves nothing half-done: the same task object still samples deterministically."""
    task = get_task('set_or_string')
    with pytest.raises(ValueError):
        task.sample(3, seed=0)
    a, b = task.sample(4, seed=0), task.sample(4, seed=0)
    assert isinstance(a, MinimalPairs) and torch.equal(a.tokens, b.tokens)


def test_a_taken_name_needs_the_same_definition():
    "Running a task's definition again re-registers it; a different class under a taken name is refused."
    with pytest.raises(ValueError, match="name: expected a new task name, got 'cipher', already registered to CipherTask"):
        register_task('cipher')(type('OtherCipher', (), {}))
    assert register_task('cipher')(CipherTask) is CipherTask and get_task('cipher').p == 23

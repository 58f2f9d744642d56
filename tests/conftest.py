"""Property-based tests draw their examples from a fixed seed, so a run is repeatable: the same examples every time.
Browser tests that share a lesson run (the `ran` fixture of tests/test_browser.py) run one after another, so that each
lesson opens once."""
import pytest
from hypothesis import settings

settings.register_profile('sparse_tutor', derandomize=True, print_blob=True)
settings.load_profile('sparse_tutor')


def _lesson_run(item):
    callspec = getattr(item, 'callspec', None)
    return callspec.params.get('ran') if callspec is not None else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    "Group the tests of each (app, lesson) run together, keeping their order otherwise."
    slots = [i for i, item in enumerate(items) if _lesson_run(item) is not None]
    first_seen = {}
    for i in slots: first_seen.setdefault(_lesson_run(items[i]), len(first_seen))
    grouped = sorted((items[i] for i in slots), key=lambda item: first_seen[_lesson_run(item)])
    for i, item in zip(slots, grouped): items[i] = item

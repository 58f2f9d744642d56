"""Property-based tests draw their examples from a fixed seed, so a run is repeatable: the same examples every time."""
from hypothesis import settings

settings.register_profile('sparse_tutor', derandomize=True, print_blob=True)
settings.load_profile('sparse_tutor')

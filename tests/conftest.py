import os
import pathlib
import sys

from hypothesis import settings

# The oracles every rule test uses (tests/rule_checks.py) import as a top-level module.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

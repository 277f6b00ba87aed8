"""Hypothesis profiles for the property tests: ``ci`` (default, ~2000 examples per parser) and ``long`` (100000).

Select one with ``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=2000, **_COMMON)
settings.register_profile("long", max_examples=100_000, **_COMMON)
settings.register_profile("dev", max_examples=200, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

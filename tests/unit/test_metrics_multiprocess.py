"""Under `hospital serve` the figures live in multiprocess files, even those made before the fork."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess, values

from hospital import metrics as module


def test_figures_made_before_the_workers_fork_are_made_again_in_multiprocess_mode(
    tmp_path: Path,
) -> None:
    assert module.MULTIPROC_ENV not in os.environ
    saved = values.ValueClass
    before = module.metrics()  # e.g. the command line's app counted a pool checkout
    try:
        module.prepare_multiprocess(str(tmp_path))
        after = module.metrics()
        assert after is not before
        after.sse_subscribers.inc()
        after.holds.inc()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        text = generate_latest(registry).decode()
        assert "hospital_sse_subscribers 1.0" in text
        assert "hospital_holds_total 1.0" in text
    finally:
        current = module._metrics  # noqa: SLF001 - put the in-memory figures back for the rest
        if current is not None:
            for collector in vars(current).values():
                REGISTRY.unregister(collector)
        module._metrics = None  # noqa: SLF001
        values.ValueClass = saved
        os.environ.pop(module.MULTIPROC_ENV, None)

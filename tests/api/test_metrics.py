"""Prometheus metrics with several worker processes (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chain.artifacts import REPO_ROOT

COUNT = """
from api import metrics
metrics.REQUESTS.labels("POST", "/api/v1/donations", "201").inc({n})
metrics.QUEUE_DEPTH.set({n})
{end}
"""
EXPOSE = """
import sys
from prometheus_client import CollectorRegistry
from api import metrics
sys.stdout.write(metrics.exposition(CollectorRegistry()).decode())
"""


def run(code: str, folder: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_")}
    env |= {
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_each_process_counts_and_any_process_answers_with_the_sum(tmp_path: Path) -> None:
    run(COUNT.format(n=3, end="metrics.process_ended()"), tmp_path)
    run(COUNT.format(n=4, end=""), tmp_path)  # killed: it could not say it ended
    text = run(EXPOSE, tmp_path)
    assert (
        'shanlian_http_requests_total{method="POST",route="/api/v1/donations",status="201"} 7.0'
        in text
    )
    # The queue depth is the sum over the processes that did not end (``livesum``).
    assert "\nshanlian_sequencer_queue_depth 4.0\n" in text

"""Compare two run folders metric by metric with paired tests on the same samples."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.results import align, compute_scores
from xraybench.runner import RUN_FILE, RunConfig, RunFolder, load_tasks


def load_run(path: str | Path) -> tuple[RunConfig, RunFolder]:
    folder = RunFolder(path)
    run_file = folder.file(RUN_FILE)
    if not run_file.exists():
        raise XrayBenchError(f"{path} is not a run folder (no {RUN_FILE})")
    config = RunConfig(**json.loads(run_file.read_text())["config"])
    return config, folder


def compare_runs(path_a: str | Path, path_b: str | Path, *, rounds: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    from xraybench.metrics.significance import compare_scores

    (config_a, folder_a), (config_b, folder_b) = load_run(path_a), load_run(path_b)
    tasks_a = {td.task.name: td for td in load_tasks(config_a)[0]}
    tasks_b = {td.task.name: td for td in load_tasks(config_b)[0]}
    shared = [name for name in tasks_a if name in tasks_b]
    if not shared:
        raise XrayBenchError(f"{path_a} and {path_b} share no task")
    done_a, done_b = folder_a.load_predictions(), folder_b.load_predictions()
    rows: list[dict[str, Any]] = []
    for name in shared:
        td_a, td_b = tasks_a[name], tasks_b[name]
        if td_a.fingerprint != td_b.fingerprint:
            raise XrayBenchError(f"task {name}: the two runs scored different samples (fingerprints "
                                 f"{td_a.fingerprint} vs {td_b.fingerprint}); a paired test needs the same items")
        scores_a, _ = compute_scores(td_a, align(td_a.samples, done_a, config_a.model)[0], config_a)
        scores_b, _ = compute_scores(td_b, align(td_b.samples, done_b, config_b.model)[0], config_b)
        for row in compare_scores(scores_a, scores_b, n_rounds=rounds, seed=seed):
            data = asdict(row) if is_dataclass(row) else dict(row)
            rows.append({"task": name, **data})
    return rows

"""A separate package adds a dataset with its tasks, a task, a metric, a model adapter and a judge through the
`xraybench.plugins` entry points, and `xraybench run` uses them end to end.

The package is tests/plugins/toy_xray_plugin with its `toy_xray_plugin-0.1.dist-info/entry_points.txt`:
putting tests/plugins on sys.path "installs" it the way pip would (importlib.metadata finds the dist-info).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.registry import PluginError, reload_plugins
from xraybench.tasks import get_task

PLUGINS = Path(__file__).parent / "plugins"
REPORTS = [
    {"id": "s1", "split": "test", "findings": "No acute cardiopulmonary process."},
    {"id": "s2", "split": "test", "findings": "Small left pleural effusion. No pneumothorax."},
    {"id": "s3", "split": "test", "findings": "Heart size is normal. Lungs are clear."},
    {"id": "s4", "split": "train", "findings": "Mild cardiomegaly."},
]


def _forget_plugin_modules() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in ("toy_xray_plugin", "bad_plugin")]:
        del sys.modules[name]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy plugin on sys.path, its entry points read; gone again afterwards (for every other test)."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    reload_plugins()
    yield
    monkeypatch.undo()
    _forget_plugin_modules()
    reload_plugins()


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "toy_reports"
    root.mkdir()
    (root / "reports.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REPORTS))
    return root


def _run_args(root: Path, out: Path) -> list[str]:
    return [
        "run", "--model", "toy_echo:No acute cardiopulmonary process.", "--tasks", "toy_reports_findings,toy_reports_first2",
        "--data-root", f"toy_reports={root}", "--extra-metrics", "toy_words", "--out", str(out),
        "--bootstrap-rounds", "20", "--no-progress",
    ]  # fmt: skip


def test_list_shows_what_the_plugin_adds(installed: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("toy_reports_findings", "toy_reports_first2", "toy_reports", "toy_words", "toy_echo", "toy_chars"):
        assert name in out
    from xraybench.metrics import METRICS

    # a registration function's lines count as the plugin's (so a reload can take them back)
    assert "of toy-xray-plugin" in METRICS.entry("toy_chars").origin
    assert out.index("demo_classification") < out.index("toy_reports_findings")  # built-ins first, as before


def test_run_uses_the_plugin_dataset_task_metric_and_model(
    installed: None, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_run_args(data_root, out)) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    findings, first2 = results["tasks"]["toy_reports_findings"], results["tasks"]["toy_reports_first2"]
    assert findings["n"] == 3 and first2["n"] == 2  # the loader's split filter and the plugin task's option
    assert findings["metrics"]["toy_words"]["value"] == 4.0  # "No acute cardiopulmonary process." on every item
    assert findings["metric_details"]["toy_words"]["tokenizer"] == "coco"  # the run option it declared
    assert findings["metrics"]["bleu_4"]["value"] is not None and "rouge_l" in findings["metrics"]
    assert results["model"]["name"] == "toy_echo:No acute cardiopulmonary process."
    assert any("toy_words" in line and "4.0000" in line for line in printed.splitlines())  # in the run table


def test_plugin_dataset_facts_reach_governance_and_the_leakage_check(installed: None, data_root: Path) -> None:
    from medix_train.data import _space
    from xraybench.taskdata import load_task, parse_data_roots

    td = load_task("toy_reports_findings", parse_data_roots([f"toy_reports={data_root}"]))
    assert all(s.credentialed for s in td.samples)  # the loader did not say; the dataset's fact does
    assert _space("toy_reports") == _space("mimic_cxr")


def test_a_plugin_judge_is_built_and_decides(installed: None) -> None:
    from arena.judges import build_judge

    judge = build_judge("toy_judge")  # registered by the entry point judge.toy_judge, resolved on first use
    request = judge.build_request("No effusion.", "No effusion.", "There is no pleural effusion seen.", {})
    answer = judge.client.complete(request.messages)
    assert judge.parse_verdict(answer.text)["verdict"] == "A>B"


def test_run_in_a_fresh_process_finds_the_installed_plugin(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "xraybench", *_run_args(data_root, out)], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "toy_words" in proc.stdout
    assert json.loads((out / "results.json").read_text())["tasks"]["toy_reports_findings"]["n"] == 3
    # a registry created after the entry points were read (the arena's judges) still gets its plugins
    code = "from xraybench.metrics import METRICS; assert 'toy_words' in METRICS; from arena.judges import JUDGES; "
    code += "print(JUDGES.get('toy_judge').__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ShorterWins", proc.stderr[-2000:]


def test_without_the_plugin_its_names_are_unknown(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xraybench.metrics import METRICS

    assert main(_run_args(data_root, tmp_path / "run")) != 0
    assert "unknown metric 'toy_words'" in capsys.readouterr().err
    assert "toy_chars" not in METRICS and "bleu" in METRICS
    with pytest.raises(XrayBenchError, match="unknown task 'toy_reports_findings'"):
        get_task("toy_reports_findings")


def test_a_broken_plugin_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "bad_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[xraybench.plugins]\nmetrc.typo = bad_plugin:Nothing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(PluginError, match=r"plugin metrc.typo = bad_plugin:Nothing of bad-plugin.*KIND one of"):
            reload_plugins()
        (dist / "entry_points.txt").write_text("[xraybench.plugins]\nmetric.missing = bad_plugin:Nothing\n")
        reload_plugins()
        from xraybench.metrics import METRICS

        with pytest.raises(PluginError, match=r"metric 'missing' \(registered by plugin .*bad-plugin\) cannot be"):
            METRICS.get("missing")
    finally:
        monkeypatch.undo()
        _forget_plugin_modules()
        reload_plugins()

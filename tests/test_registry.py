from __future__ import annotations

import pytest

from xraybench.errors import MissingExtraError, XrayBenchError
from xraybench.metrics import METRICS
from xraybench.models import MODELS
from xraybench.registry import Registry, UnknownNameError
from xraybench.tasks import expand, get_task


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'predictions'"):
        MODELS.entry("prediction")
    with pytest.raises(UnknownNameError, match="'rouge_l'"):
        METRICS.entry("rouge")


def test_missing_dependency_names_the_extra(tmp_path, monkeypatch) -> None:
    (tmp_path / "adapter_with_heavy_dep.py").write_text("import a_package_that_is_not_installed_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry = Registry("thing")
    reg.register("x", "adapter_with_heavy_dep:thing", extra="hf")
    with pytest.raises(MissingExtraError, match=r"pip install 'xraybench\[hf\]'"):
        reg.get("x")


def test_unknown_task_suggests() -> None:
    with pytest.raises(XrayBenchError, match="Did you mean 'iu_xray_findings'"):
        get_task("iu_xray_finding")


def test_suite_expands_with_paper_sizes() -> None:
    tasks, sizes, suites = expand(["xraybench", "demo_vqa"])
    assert suites == ["xraybench"]
    assert tasks[:2] == ["mimic_cxr_findings", "mimic_cxr_impression"] and tasks[-1] == "demo_vqa"
    assert sizes == {"ext_vqa": 5000, "cxr_vqa": 4666}


def test_demo_labels_match_the_demo_drawings() -> None:
    from xraybench.datasets.demo import LABELS
    from xraybench.tasks import DEMO_LABELS

    assert tuple(LABELS) == DEMO_LABELS

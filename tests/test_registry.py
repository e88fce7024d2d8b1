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

    labels = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Nodule", "Pneumothorax")
    assert tuple(LABELS) == labels
    assert get_task("demo_classification").metric_options["classification"]["labels"] == labels


# --- typed registries: every target resolves and meets its contract; a dataset brings its tasks and facts ---


def _all_registries() -> list[Registry]:
    from arena.judges import JUDGES
    from xraybench.datasets import DATASETS
    from xraybench.tasks import TASK_REGISTRY

    return [DATASETS, TASK_REGISTRY, METRICS, MODELS, JUDGES]


def test_every_registered_target_resolves_and_meets_its_contract() -> None:
    from xraybench.datasets.base import Dataset
    from xraybench.metrics.base import MetricSpec
    from xraybench.tasks import Task

    for registry in _all_registries():
        for entry in registry.entries():
            try:
                target = registry.get(entry.name)
            except MissingExtraError:
                assert entry.extra, f"{registry.kind} {entry.name} needs a package but names no extra"
                continue
            if registry is METRICS:
                assert isinstance(target.spec, MetricSpec) and callable(target.score)
            elif registry.kind == "dataset":
                assert isinstance(target, Dataset) and target.name == entry.name and callable(target.load)
            elif registry.kind == "task":
                assert isinstance(target, Task) and target.name == entry.name
            elif registry.kind == "judge":
                assert callable(target.create) and callable(target.build_request) and callable(target.parse_verdict)
            else:
                assert callable(target)


def _toy_loader(root, *, task: str, split: str, section: str = "findings"):
    from xraybench.datasets.base import LoadResult
    from xraybench.records import Sample

    samples = [
        Sample(id=f"t{i}", task=task, dataset="toy_cxr", split=split, prompt="Describe.", reference="No effusion.")
        for i in range(3)
    ]  # the loader forgets to mark them credentialed; the dataset's fact decides
    return LoadResult(samples)


def test_a_dataset_registration_brings_its_tasks_and_facts() -> None:
    from medix_train.data import _space
    from xraybench.datasets import DATASETS, Dataset
    from xraybench.taskdata import load_task
    from xraybench.tasks import TASKS, report_tasks

    toy = Dataset(
        "toy_cxr", _toy_loader, "a toy dataset", tasks=report_tasks("toy_cxr"), credentialed=True,
        study_space="mimic", needs_root=False,
    )  # fmt: skip
    with DATASETS.scoped():
        DATASETS.register("toy_cxr", toy)  # the one registration line
        assert "toy_cxr_findings" in TASKS and get_task("toy_cxr_impression").options == {"section": "impression"}
        td = load_task("toy_cxr_findings")  # no data root: the dataset says it needs none
        assert [s.credentialed for s in td.samples] == [True, True, True]
        assert _space("toy_cxr") == _space("mimic_cxr") == "mimic"  # the trainer's leakage check reads the fact
    assert "toy_cxr_findings" not in TASKS  # gone with its dataset
    with pytest.raises(XrayBenchError, match="Did you mean"):
        get_task("toy_cxr_findings")


def test_builtin_dataset_facts_live_with_their_loaders() -> None:
    from xraybench.datasets import DATASETS

    facts = {name: DATASETS.get(name) for name in DATASETS.names()}
    credentialed = {"mimic_cxr", "chexpert_plus", "ext_vqa", "cxr_vqa", "ms_cxr"}
    assert {n for n, d in facts.items() if d.credentialed} == credentialed
    assert {n for n, d in facts.items() if d.space == "mimic"} == {"mimic_cxr", "ext_vqa", "cxr_vqa", "ms_cxr"}
    assert [n for n, d in facts.items() if not d.needs_root] == ["demo"]


def test_a_target_that_breaks_its_contract_is_refused_by_name() -> None:
    from xraybench.datasets import DATASETS
    from xraybench.registry import PluginError

    with DATASETS.scoped():
        DATASETS.register("not_a_dataset", "xraybench.datasets.demo:load_demo")
        with pytest.raises(PluginError, match="'not_a_dataset' breaks the dataset contract: expected a Dataset"):
            DATASETS.get("not_a_dataset")
    with METRICS.scoped():
        METRICS.register("no_score", "xraybench.metrics.base:Scores")
        with pytest.raises(PluginError, match="'no_score' breaks the metric contract"):
            METRICS.get("no_score")

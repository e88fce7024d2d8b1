"""Dataset registry. A new dataset = one module with its loader and `DATASET = Dataset(...)` (its tasks and
facts: credentialed, study space, needs a root) + one registration line here (or a plugin's entry point)."""

from __future__ import annotations

from xraybench.datasets.base import Dataset, Loader, LoadResult
from xraybench.records import Sample
from xraybench.registry import Registry, instance_of

DATASETS: Registry[Dataset] = Registry("dataset", plugin_kind="dataset", check=instance_of(Dataset))
# the order of these lines is the order of `xraybench list tasks`
_r = DATASETS.register
_r("mimic_cxr", "xraybench.datasets.mimic_cxr:DATASET")
_r("iu_xray", "xraybench.datasets.iu_xray:DATASET")
_r("chexpert_plus", "xraybench.datasets.chexpert_plus:DATASET")
_r("ext_vqa", "xraybench.datasets.vqa:EXT_VQA")
_r("cxr_vqa", "xraybench.datasets.vqa:CXR_VQA")
_r("vqa_rad", "xraybench.datasets.vqa:VQA_RAD")
_r("slake", "xraybench.datasets.vqa:SLAKE")
_r("cxr14", "xraybench.datasets.cxr14:DATASET")
_r("ms_cxr", "xraybench.datasets.ms_cxr:DATASET")
_r("chexpert", "xraybench.datasets.chexpert:DATASET")
_r("xraybench_hf", "xraybench.datasets.xraybench_hf:DATASET")
_r("rexrank", "xraybench.datasets.rexrank:DATASET")
_r("demo", "xraybench.datasets.demo:DATASET")


def get_dataset(name: str) -> Dataset:
    """The registered dataset (its loader and facts); an unknown name gets "did you mean"."""
    return DATASETS.get(name)


def dataset_facts(name: str) -> Dataset | None:
    """The dataset registered as `name`, or None for a name no loader knows (e.g. in a foreign record)."""
    return DATASETS.get(name) if name in DATASETS else None


def is_credentialed(sample: Sample) -> bool:
    """Is this sample credentialed: its own flag, its dataset's (`Dataset.credentialed`) or, for a dataset that
    mixes sources, its per-sample rule (`Dataset.credentialed_sample`). The one rule the loaders' results, the
    governance check (run, judges, reasoning scores) and cold-start synthesis all read; a flag a record carries can
    only add to it, never clear it. A dataset no loader knows has only the sample's flag to go by."""
    if sample.credentialed:
        return True
    facts = dataset_facts(sample.dataset)
    if facts is None:
        return False
    return facts.credentialed or (facts.credentialed_sample is not None and facts.credentialed_sample(sample))


__all__ = ["DATASETS", "Dataset", "LoadResult", "Loader", "dataset_facts", "get_dataset", "is_credentialed"]

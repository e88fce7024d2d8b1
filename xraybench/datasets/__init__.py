"""Dataset-loader registry. A new dataset = one module + one `register` line here."""

from __future__ import annotations

from xraybench.datasets.base import Loader, LoadResult
from xraybench.registry import Registry

LOADERS: Registry = Registry("dataset")
_r = LOADERS.register
_r("mimic_cxr", "xraybench.datasets.mimic_cxr:load_mimic_cxr", help="MIMIC-CXR / MIMIC-CXR-JPG 2.x (credentialed)")
_r(
    "iu_xray",
    "xraybench.datasets.iu_xray:load_iu_xray",
    help="IU X-ray / OpenI: R2Gen annotation.json, indiana_*.csv or Open-i XML (NLMCXR_reports.tgz)",
)
_r("chexpert_plus", "xraybench.datasets.chexpert_plus:load_chexpert_plus", help="CheXpert Plus (credentialed)")
_r("cxr14", "xraybench.datasets.cxr14:load_cxr14", help="NIH ChestX-ray14, official lists and boxes")
_r("chexpert", "xraybench.datasets.chexpert:load_chexpert", help="CheXpert v1.0 train.csv/valid.csv, 13 findings")
_r("ext_vqa", "xraybench.datasets.vqa:load_mimic_ext_vqa", help="MIMIC-Ext-MIMIC-CXR-VQA JSON (credentialed)")
_r("cxr_vqa", "xraybench.datasets.vqa:load_medical_cxr_vqa", help="Medical-CXR-VQA (credentialed)")
_r("vqa_rad", "xraybench.datasets.vqa:load_vqa_rad", help="VQA-RAD public JSON (chest X-ray subset)")
_r("slake", "xraybench.datasets.vqa:load_slake", help="SLAKE 1.0 JSON (English, X-ray subset)")
_r("xraybench_hf", "xraybench.datasets.xraybench_hf:load_xraybench_export", help="the paper's XrayBench HF export")
_r("demo", "xraybench.datasets.demo:load_demo", help="tiny bundled synthetic suite (texts and images made by us)")

__all__ = ["LOADERS", "LoadResult", "Loader"]

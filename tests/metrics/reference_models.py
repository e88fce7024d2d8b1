"""Run the field's reference packages on randomly initialised weights, in a subprocess, for the equality tests.

The reference packages hard-code where their weights come from (`bert-base-uncased` from the Hugging Face hub,
`chexbert.pth` in the user cache of `appdirs`). Here they run unmodified in a child process whose environment
points those places at the tiny random weights a test built (`xraybench.testing.tiny_bert`): a Hugging Face cache
laid out as the hub lays it out (offline mode), and `XDG_CACHE_HOME` for `appdirs`. A subprocess, so the
environment is read fresh (huggingface_hub reads it once, at import) and nothing leaks into other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

FAKE_COMMIT = "0" * 40


def hub_cache_with(root: Path, repo: str, folder: Path) -> Path:
    """A Hugging Face hub cache under `root` in which model repo `repo` is the files of `folder`."""
    cache = root / "hub"
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / FAKE_COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        if file.is_file():
            shutil.copy(file, snapshot / file.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(FAKE_COMMIT)
    return cache


# transformers 5 removed `encode_plus`, which f1chexbert (written for transformers 4) calls on a list of WordPiece
# tokens; on such a list transformers 4's BertTokenizer converted the tokens to ids and put [CLS] before and [SEP]
# after (its build_inputs_with_special_tokens, gone in 5 too), without truncation.
_ENCODE_PLUS_SHIM = """
from transformers import BertTokenizer
if not hasattr(BertTokenizer, "encode_plus"):
    BertTokenizer.encode_plus = lambda self, tokens: {
        "input_ids": [self.cls_token_id, *self.convert_tokens_to_ids(tokens), self.sep_token_id]
    }
"""

_F1CHEXBERT = (
    _ENCODE_PLUS_SHIM
    + """
import json, sys
import pandas as pd, torch
from f1chexbert import F1CheXbert
from f1chexbert.f1chexbert import generate_attention_masks, tokenize

job = json.load(open(sys.argv[1]))
model = F1CheXbert(device="cpu")
out = {"labels": [model.get_label(r, mode="classification") for r in job["reports"]]}
with torch.no_grad():  # the [CLS] embedding of the same network, as CXR-Report-Metric's encode.py takes it
    out["embeddings"] = []
    for ids in tokenize(pd.Series(job["reports"]), model.tokenizer):
        batch = torch.LongTensor([ids])
        mask = generate_attention_masks(batch, [len(ids)], "cpu")
        out["embeddings"].append(model.model.bert(batch, attention_mask=mask)[0][0, 0, :].tolist())
# F1CheXbert.forward's classification reports; its accuracy lines before them use a private scikit-learn
# function whose signature changed, so the reports are computed here as forward computes them
from sklearn.metrics import classification_report
refs = [model.get_label(r.strip()) for r in job["refs"]]
hyps = [model.get_label(h.strip()) for h in job["hyps"]]
out["report_14"] = classification_report(refs, hyps, target_names=model.target_names, output_dict=True)
import numpy as np
refs_5 = [np.array(r)[model.target_names_5_index] for r in refs]
hyps_5 = [np.array(h)[model.target_names_5_index] for h in hyps]
out["report_5"] = classification_report(refs_5, hyps_5, target_names=model.target_names_5, output_dict=True)
json.dump(out, open(sys.argv[2], "w"))
"""
)


def run_f1chexbert(
    work: Path, checkpoint: Path, bert_dir: Path, reports: list[str], hyps: list[str], refs: list[str]
) -> dict[str, Any]:
    """f1chexbert's labels ("classification" mode), [CLS] embeddings and classification reports, on the
    `chexbert.pth`-layout `checkpoint` with the tokenizer and config of `bert_dir` standing in for bert-base-uncased."""
    xdg = work / "xdg"
    (xdg / "chexbert").mkdir(parents=True, exist_ok=True)
    shutil.copy(checkpoint, xdg / "chexbert" / "chexbert.pth")
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(hub_cache_with(work, "bert-base-uncased", bert_dir)),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "XDG_CACHE_HOME": str(xdg),
    }
    env.pop("HF_HOME", None)
    job, result = work / "job.json", work / "result.json"
    job.write_text(json.dumps({"reports": reports, "hyps": hyps, "refs": refs}))
    proc = subprocess.run(
        [sys.executable, "-c", _F1CHEXBERT, str(job), str(result)], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise AssertionError(f"f1chexbert failed:\n{proc.stderr[-3000:]}")
    return json.loads(result.read_text())

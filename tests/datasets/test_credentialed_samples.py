"""One per-sample credentialed rule for datasets that mix sources (ReXrank, the paper's XrayBench export), applied
the same way by a run, a judge and cold-start synthesis.

ReXrank: the MIMIC-CXR and CheXpert Plus files are ours (`rexrank_files/`, invented text in ReXrank's layout); the
IU X-ray file is built from the real IU reports in `../shared/data/iu_xray/` (read in place). The XrayBench export
is a parquet file in the Hub layout: its OPEN-I rows hold real IU reports, its MIMIC rows text we wrote.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_rexrank import build_iu_rexrank, own_root  # noqa: F401 - own_root is a fixture used below

from medix_train.data import make_record
from medix_train.synthesize import SynthesizeConfig, read_jobs, synthesize
from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient
from xraybench.llm.governance import check_governance
from xraybench.records import Sample
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

pytestmark = pytest.mark.usefixtures("litellm_ready")

REMOTE = "http://teacher.example.org/v1"  # never reached: governance refuses before any call


def _remote(server: OpenAIServer) -> str:
    return server.base_url.replace("127.0.0.1", "127.1")  # reaches the server, not a name governance calls local


def _records(path: Path, samples: list[Sample], *, flag: str) -> Path:
    """Stage-2 prompt records of `samples` as build-data writes them; `flag`: "kept" as written, "absent" (an older
    or hand-written record without `source.credentialed`) or "false" (a record that claims it is not)."""
    from PIL import Image

    rows = []
    for sample in samples:
        for image in sample.image_paths:  # the records must name existing images (ours, grey squares)
            if not Path(image).exists():
                Path(image).parent.mkdir(parents=True, exist_ok=True)
                Image.new("L", (16, 16), 90).save(image)
        rec = make_record(sample, "coldstart_prompts")
        if flag == "absent":
            del rec["source"]["credentialed"]
        elif flag == "false":
            rec["source"]["credentialed"] = False
        rows.append(rec)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _synth(tmp_path: Path, prompts: Path, api_base: str, name: str) -> SynthesizeConfig:
    return SynthesizeConfig(teacher="openai/teacher", prompts=str(prompts), out=str(tmp_path / name / "out.jsonl"),
                            api_base=api_base, max_concurrency=1)  # fmt: skip


@pytest.mark.parametrize("flag", ["kept", "absent", "false"])
def test_rexrank_mimic_and_chexpert_items_are_refused_to_a_remote_teacher_iu_items_go(
    own_root: Path,  # noqa: F811 - the fixture
    shared_data: Path,
    tmp_path: Path,
    flag: str,
) -> None:
    """The drift: synthesis fell back to the dataset-level flag, which is False for `rexrank` (its sources differ),
    so a ReXrank MIMIC-CXR prompt record without `source.credentialed` (or one saying false) went to any teacher.
    Now the loader, the run, the judges and synthesis read one per-sample rule."""
    build_iu_rexrank(shared_data, own_root, n=3, images=True)
    secret = [s for task in ("rexrank_mimic_cxr", "rexrank_chexpert_plus_findings")
              for s in load_task(task, {"rexrank": str(own_root)}).samples]  # fmt: skip
    iu = load_task("rexrank_iu_xray", {"rexrank": str(own_root)}).samples
    assert secret and all(s.credentialed for s in secret) and not any(s.credentialed for s in iu)

    jobs = read_jobs(_records(tmp_path / "secret.jsonl", secret, flag=flag))
    assert [j.sample.credentialed for j in jobs] == [True] * len(secret)
    config = _synth(tmp_path, tmp_path / "secret.jsonl", REMOTE, "secret")
    with pytest.raises(XrayBenchError, match=r"refusing to synthesize: .*rexrank_mimic_cxr.*--allow-provider"):
        synthesize(config, progress=False)
    with CallStore(config.store_path) as store:
        assert store.totals().attempts == 0  # nothing was sent

    with OpenAIServer(reply_fn=lambda body: "<think>Clear [1, 2, 3, 4].</think>\\boxed{no}") as server:
        config = _synth(tmp_path, _records(tmp_path / "iu.jsonl", iu, flag=flag), _remote(server), "iu")
        synthesize(config, progress=False)
        assert len(server.chat_requests()) == len(iu) == 3  # IU X-ray is open: every item went to the teacher


def test_the_governance_check_applies_the_rule_to_samples_built_anywhere() -> None:
    """A sample built outside the loaders (a plugin, the Python API) with the flag left False is still refused for
    a remote judge or model when its dataset's rule says credentialed."""
    remote = LLMClient("openai/gpt-4o-mini")
    mimic = Sample("s1", "rexrank_mimic_cxr", "rexrank", "test", "p", "ref")
    chexpert = Sample("s2", "t", "rexrank", "test", "p", "ref", metadata={"source": "chexpert_plus"})
    unknown = Sample("s3", "t", "rexrank", "test", "p", "ref")  # no source to tell by: credentialed
    for sample in (mimic, chexpert, unknown):
        with pytest.raises(XrayBenchError, match="refusing to judge: .*rexrank"):
            check_governance([sample], remote)
    check_governance([Sample("s4", "rexrank_iu_xray_findings", "rexrank", "test", "p", "ref")], remote)
    check_governance([Sample("s5", "t", "rexrank", "test", "p", "ref", metadata={"source": "iu_xray"})], remote)


# -- the XrayBench export ------------------------------------------------------------------------------------


def _iu_reports(shared: Path, n: int) -> list[tuple[str, str]]:
    with open(shared / "iu_xray" / "indiana_reports.csv", newline="", encoding="utf-8") as handle:
        rows = [(r["uid"], r["findings"].strip()) for r in csv.DictReader(handle) if r["findings"].strip()]
    return rows[:n]


def _export(root: Path, shared: Path, *, with_subset: bool = True) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"id": f"openi-{uid}", "subset": "OPEN-I", "question": "Describe the findings.", "answer": text}
            for uid, text in _iu_reports(shared, 4)]  # fmt: skip
    rows += [
        {"id": "mimic-1", "subset": "MIMIC-CXR", "question": "Describe the findings.", "answer": "Small effusion."},
        {"id": "vqa-1", "subset": "Ext-VQA", "question": "Is there edema?", "answer": "no"},
        {"id": "vqa-2", "subset": "Medical-CXR-VQA", "question": "Which side?", "answer": "left"},
        {"id": "cxp-1", "subset": "chexpert_plus", "question": "Describe the findings.", "answer": "Clear."},
    ]
    if not with_subset:
        rows = [{k: v for k, v in r.items() if k != "subset"} for r in rows]
    (root / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "test-00000-of-00001.parquet")
    return root


def test_xraybench_export_rows_are_credentialed_by_their_subset(shared_data: Path, tmp_path: Path) -> None:
    """The export mixes OPEN-I with MIMIC-derived subsets (MIMIC-CXR reports, MIMIC-Ext-MIMIC-CXR-VQA,
    Medical-CXR-VQA): each row is credentialed unless its subset names an open source; a remote judge gets the
    OPEN-I rows and is refused the others, whether or not the loader's flag survived."""
    from xraybench.datasets.xraybench_hf import load_xraybench_export

    samples = load_xraybench_export(_export(tmp_path / "x", shared_data), task="xraybench_hf", split="test").samples
    flags = {s.id: s.credentialed for s in samples}
    assert [k for k, v in flags.items() if not v] == [s.id for s in samples if s.id.startswith("openi-")]
    assert all(flags[k] for k in ("mimic-1", "vqa-1", "vqa-2", "cxp-1"))
    remote = LLMClient("openai/gpt-4o-mini")
    open_rows = [s for s in samples if not s.credentialed]
    check_governance(open_rows, remote)
    for sample in samples:
        if sample.credentialed:
            sample.credentialed = False  # a caller that rebuilt the sample: the rule still holds at the check
            with pytest.raises(XrayBenchError, match=r"refusing to judge: .*xraybench_hf"):
                check_governance([*open_rows, sample], remote)


def test_an_export_without_a_subset_column_is_credentialed_throughout(shared_data: Path, tmp_path: Path) -> None:
    """Rows that cannot be told apart are all treated as credentialed: refused, never silently sent."""
    from xraybench.datasets.xraybench_hf import load_xraybench_export

    root = _export(tmp_path / "x", shared_data, with_subset=False)
    samples = load_xraybench_export(root, task="xraybench_hf", split="test").samples
    assert len(samples) == 8 and all(s.credentialed for s in samples)
    with pytest.raises(XrayBenchError, match="refusing to distill"):
        check_governance(samples[:1], LLMClient("openai/gpt-4o-mini"), action="distill")


def test_a_record_of_an_unknown_dataset_must_say_whether_it_is_credentialed(tmp_path: Path) -> None:
    """A prompt record from a dataset no loader here knows (a plugin not installed, a typo such as "mimic") that
    does not say `source.credentialed` cannot be told apart from MIMIC-CXR: it is refused for a remote teacher;
    one that says false is taken at its word."""
    from PIL import Image

    Image.new("L", (8, 8), 90).save(tmp_path / "x.png")
    base = {"id": "r1", "stage": "coldstart_prompts", "images": [str(tmp_path / "x.png")],
            "source": {"dataset": "mimic", "task": "t", "split": "train", "sample_id": "s1"},
            "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}],
            "ground_truth": "no", "answer_form": "short"}  # fmt: skip
    silent = tmp_path / "silent.jsonl"
    silent.write_text(json.dumps(base) + "\n", encoding="utf-8")
    assert read_jobs(silent)[0].sample.credentialed is True
    with pytest.raises(XrayBenchError, match=r"refusing to synthesize: .*mimic"):
        synthesize(_synth(tmp_path, silent, REMOTE, "silent"), progress=False)
    said = tmp_path / "said.jsonl"
    said.write_text(json.dumps({**base, "source": {**base["source"], "credentialed": False}}) + "\n")
    assert read_jobs(said)[0].sample.credentialed is False

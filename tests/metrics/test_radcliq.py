"""RadCliQ-v1: the published formula, its RadGraph input, and the composition of its four inputs.

- The formula against scikit-learn's StandardScaler holding the parameters of CXR-Report-Metric's `radcliq-v1.pkl`,
  applied as its `CompositeMetric.predict` applies them (normalise, append a 1, dot the coefficients).
- `radgraph_combined` on hand-computed annotations (CXR-Report-Metric's entity / relation sets and F1).
- The metric end to end on real IU X-ray report pairs, with tiny random CheXbert and BERT weights and the RadGraph
  model replaced by a stand-in annotator (no RadGraph weights here): each input equals its reference —
  BERTScore F1 from the `bert-score` package with the same rescale file, SembScore from CXR-Report-Metric's
  formula, BLEU-2 from NLTK's `sentence_bleu` with smoothing 1 on CXR-Report-Metric's tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_lexical import IU_REPORTS, iu_report_pairs

from xraybench.metrics.radcliq import COEFS, INTERCEPT, MEAN, SCALE, radcliq_v1, radgraph_combined


def entity(tokens: str, label: str, relations: list[list[str]] | None = None) -> dict[str, Any]:
    return {"tokens": tokens, "label": label, "start_ix": 0, "end_ix": 0, "relations": relations or []}


def test_formula_equals_the_published_scaler_and_coefficients() -> None:
    preprocessing = pytest.importorskip("sklearn.preprocessing", reason="scikit-learn (dev extra) is the reference")
    scaler = preprocessing.StandardScaler()
    scaler.mean_, scaler.scale_ = np.array(MEAN), np.array(SCALE)
    scaler.var_, scaler.n_features_in_, scaler.n_samples_seen_ = np.array(SCALE) ** 2, 4, 160
    coefs = np.array([*COEFS, INTERCEPT])
    rng = np.random.default_rng(0)
    x = np.vstack([rng.uniform(-0.2, 1.0, size=(200, 4)), np.zeros((1, 4)), np.ones((1, 4))])
    norm = scaler.transform(x)
    expected = np.concatenate((norm, np.ones((norm.shape[0], 1))), axis=1) @ coefs
    np.testing.assert_allclose(radcliq_v1(x), expected, rtol=0, atol=1e-12)
    # the published direction: a perfect report scores far below a useless one (lower is better)
    assert radcliq_v1(np.ones((1, 4)))[0] == pytest.approx(-0.37708368 * 0.4620768 / 0.3028258 - 0.3703001
                                                           * 0.3824274 / 0.2243094 - 0.2526162 * 0.2352058
                                                           / 0.2539439, abs=1e-6)  # fmt: skip
    assert radcliq_v1(np.zeros((1, 4)))[0] > 2.0


def test_radgraph_combined_by_hand() -> None:
    ref = {
        "entities": {
            "1": entity("effusion", "OBS-DP", [["located_at", "2"]]),
            "2": entity("pleural", "ANAT-DP"),
            "3": entity("heart", "ANAT-DP"),
        }
    }
    hyp = {"entities": {"1": entity("effusion", "OBS-DP", [["located_at", "2"]]), "2": entity("pleural", "ANAT-DP")}}
    # entities: 2 shared of hyp 2 / ref 3 -> F1 0.8; relations: the one relation shared -> 1.0
    assert radgraph_combined(hyp, ref) == pytest.approx((0.8 + 1.0) / 2)
    # the same entities without relations on either side: relation F1 is 0, not 1 (CXR-Report-Metric's compute_f1)
    flat = {"entities": {"1": entity("heart", "ANAT-DP")}}
    assert radgraph_combined(flat, flat) == pytest.approx(0.5)
    assert radgraph_combined(None, ref) == 0.0
    # the label is part of an entity; relation type too
    other = {"entities": {"1": entity("effusion", "OBS-U", [["modify", "2"]]), "2": entity("pleural", "ANAT-DP")}}
    assert radgraph_combined(other, hyp) == pytest.approx((0.5 + 0.0) / 2)


torch = pytest.importorskip("torch", reason="RadCliQ needs torch (the 'hf' extra)")
pytest.importorskip("transformers", reason="RadCliQ needs transformers (the 'hf' extra)")


class StandInRadGraph:
    """Annotates like a RadGraph model would be called (a list of reports -> {"i": annotation}), from a fixed
    word list: each known word is an entity, each entity points at the next one. Only a stand-in for the model;
    the scoring around it is what is tested."""

    WORDS = {"effusion": "OBS-DP", "pleural": "ANAT-DP", "heart": "ANAT-DP", "normal": "OBS-DA",
             "pneumothorax": "OBS-DA", "opacity": "OBS-DP", "lungs": "ANAT-DP", "clear": "OBS-DA"}  # fmt: skip

    def __init__(self, **kwargs: Any) -> None:
        pass

    def __call__(self, reports: list[str]) -> dict[str, Any]:
        out = {}
        for i, report in enumerate(reports):
            found = [w.strip(".,").lower() for w in report.split() if w.strip(".,").lower() in self.WORDS]
            ents = {
                str(k + 1): entity(w, self.WORDS[w], [["modify", str(k + 2)]] if k + 1 < len(found) else [])
                for k, w in enumerate(found)
            }
            out[str(i)] = {"text": report, "entities": ents}
        return out


@pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")
def test_metric_inputs_equal_their_references_on_real_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bert_score = pytest.importorskip("bert_score", reason="bert-score (dev extra) is the BERTScore reference")
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score", reason="nltk (dev extra) is the BLEU reference")
    radgraph = pytest.importorskip("radgraph", reason="the RadGraph input goes through the radgraph package")
    from xraybench.metrics import METRICS, metric_spec
    from xraybench.metrics.radcliq import RadCliqMetric
    from xraybench.metrics.rexrank_bleu import rexrank_tokens
    from xraybench.records import Prediction, Sample
    from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert

    monkeypatch.setattr(radgraph, "RadGraph", StandInRadGraph)
    (tmp_path / "rg" / "radgraph").mkdir(parents=True)
    (tmp_path / "rg" / "radgraph" / "weights.th").write_bytes(b"")
    (tmp_path / "rg" / "radgraph" / "config.json").write_text("{}")
    bert = build_tiny_bert(tmp_path / "bert", max_length=512)
    checkpoint = build_tiny_chexbert(tmp_path / "chexbert.pth", bert, seed=1)
    baseline = Path(bert_score.__file__).parent / "rescale_baseline" / "en" / "distilroberta-base.tsv"
    hyps, refs = iu_report_pairs(40, seed=11)
    refs = [r[0] for r in refs]
    hyps[3], hyps[5] = refs[3], "  Heart  size is normal.   The lungs are   clear. "  # identical; runs of spaces

    assert METRICS.get("radcliq") is RadCliqMetric and metric_spec("radcliq").higher_is_better is False
    metric = RadCliqMetric(
        checkpoint=str(checkpoint), tokenizer=str(bert), radgraph_dir=str(tmp_path / "rg"),
        bertscore_model=str(bert), bertscore_num_layers=2, bertscore_baseline=str(baseline),
        device="cpu", progress=False,
    )  # fmt: skip
    samples = [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    scores = metric.score(samples, predictions)

    import re

    _, _, f = bert_score.score(
        [re.sub(r" +", " ", h) for h in hyps], [re.sub(r" +", " ", r) for r in refs], model_type=str(bert),
        num_layers=2, rescale_with_baseline=True, baseline_path=str(baseline), lang="en", device="cpu",
    )  # fmt: skip
    np.testing.assert_allclose(scores["radcliq_bertscore"].per_sample, f.numpy(), atol=1e-6)

    emb = {t: e.numpy() for t, e in zip(hyps + refs, metric.labeler.embeddings(hyps + refs), strict=True)}
    semb = [float((emb[r] * emb[h]).sum() / (np.linalg.norm(emb[r]) * np.linalg.norm(emb[h]))) for h, r in zip(hyps, refs, strict=True)]  # fmt: skip
    np.testing.assert_allclose(scores["radcliq_semb_score"].per_sample, semb, atol=1e-5)

    smooth = nltk_bleu.SmoothingFunction().method1
    bleu = [nltk_bleu.sentence_bleu([rexrank_tokens(r)], rexrank_tokens(h), (0.5, 0.5), smooth) for h, r in zip(hyps, refs, strict=True)]  # fmt: skip
    np.testing.assert_allclose(scores["radcliq_bleu_score"].per_sample, bleu, atol=1e-12)

    annotate = StandInRadGraph()
    rg = [radgraph_combined(annotate([h])["0"], annotate([r])["0"]) for h, r in zip(hyps, refs, strict=True)]
    np.testing.assert_allclose(scores["radcliq_radgraph_combined"].per_sample, rg, atol=1e-12)

    parts = np.column_stack([rg, f.numpy(), semb, bleu])
    np.testing.assert_allclose(scores["radcliq_v1"].per_sample, radcliq_v1(parts), atol=1e-4)
    assert scores["radcliq_v1"].value == pytest.approx(float(np.mean(radcliq_v1(parts))), abs=1e-4)
    assert scores["radcliq_v1"].per_sample[3] == scores["radcliq_v1"].per_sample.min(), "identical pair scores best"
    assert np.ptp(parts, axis=0).min() > 0, "every input should vary over real report pairs"


def test_other_bertscore_model_needs_its_baseline_file(tmp_path: Path) -> None:
    from xraybench.errors import XrayBenchError
    from xraybench.metrics.radcliq import RadCliqMetric

    with pytest.raises(XrayBenchError, match="bertscore_baseline"):
        RadCliqMetric(bertscore_model=str(tmp_path), bertscore_num_layers=2)


def test_built_in_bertscore_baseline_is_bert_scores_distilroberta_row(tmp_path: Path) -> None:
    """Without a baseline file RadCliQ rescales with bert-score's distilroberta-base layer-5 F baseline: the same
    numbers as bert-score with its own rescale file (a 6-layer stand-in folder named distilroberta-base)."""
    bert_score = pytest.importorskip("bert_score", reason="bert-score (dev extra) is the BERTScore reference")
    transformers = pytest.importorskip("transformers")
    from xraybench.metrics.bertscore import read_baseline
    from xraybench.metrics.radcliq import BERTSCORE_BASELINE_F, RadCliqMetric
    from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert

    baseline = Path(bert_score.__file__).parent / "rescale_baseline" / "en" / "distilroberta-base.tsv"
    assert float(np.float32(read_baseline(baseline, 5)[2])) == BERTSCORE_BASELINE_F
    bert = build_tiny_bert(tmp_path / "bert")
    six = tmp_path / "distilroberta-base"
    config = transformers.BertConfig.from_pretrained(bert)
    config.num_hidden_layers = 6
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(six)
    transformers.AutoTokenizer.from_pretrained(bert).save_pretrained(six)
    radgraph = pytest.importorskip("radgraph", reason="the RadGraph input goes through the radgraph package")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(radgraph, "RadGraph", StandInRadGraph)
    (tmp_path / "rg" / "radgraph").mkdir(parents=True)
    (tmp_path / "rg" / "radgraph" / "weights.th").write_bytes(b"")
    (tmp_path / "rg" / "radgraph" / "config.json").write_text("{}")
    try:
        metric = RadCliqMetric(
            checkpoint=str(build_tiny_chexbert(tmp_path / "c.pth", bert)), tokenizer=str(bert),
            radgraph_dir=str(tmp_path / "rg"), bertscore_model=str(six), device="cpu", progress=False,
        )  # fmt: skip
    finally:
        monkeypatch.undo()
    hyps = ["No pleural effusion.", "Mild  cardiomegaly.", "The lungs are clear."]
    refs = ["Small left effusion.", "Heart size is normal.", "The lungs are clear."]
    ours = metric.components(hyps, refs)[:, 1]
    hyps_spaced = [h.replace("  ", " ") for h in hyps]
    _, _, f_spaced = bert_score.score(hyps_spaced, refs, model_type=str(six), num_layers=5, rescale_with_baseline=True,
                                      baseline_path=str(baseline), lang="en", device="cpu")  # fmt: skip
    np.testing.assert_allclose(ours, f_spaced.numpy(), atol=1e-6)
    assert ours[2] == pytest.approx(1.0, abs=1e-5) and ours[1] < 0 < ours[0] < 1, "rescaled, so not in [0.85, 1]"

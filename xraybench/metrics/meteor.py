"""METEOR 1.5 with the values of the jar shipped in `pycocoevalcap` (`-l en -norm`).

Published report-generation numbers come from `pycocoevalcap.meteor.Meteor`, which streams
`SCORE ||| ref1 ||| ... ||| hyp` lines to `meteor-1.5.jar -stdio` and asks for the corpus score with one
`EVAL` line. The corpus score is METEOR of the *summed* sufficient statistics, not the mean of segment
scores, so we keep each segment's 23 statistics: `meteor_from_stats` recomputes the jar's formula on any
sum of them, which lets a bootstrap resample be scored without another jar call. The default backend computes the
same statistics without Java (`meteor_native`, proven identical to the jar by the tests).

Statistics layout (the jar's `MeteorStats.toString`): test length, reference length, test function words,
reference function words, then for each of the 4 stages (exact, stem, synonym, paraphrase) test content,
reference content, test function, reference function matches, then chunks, test word matches, reference
word matches.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics._lexical import TokenCache
from xraybench.metrics.base import LEXICAL_OPTIONS, MetricSpec, Scores
from xraybench.metrics.tokenize import check_mode, tokenize_batch
from xraybench.records import Prediction, Sample

if TYPE_CHECKING:
    from xraybench.metrics.meteor_native import NativeMeteor

ALPHA, BETA, GAMMA, DELTA = 0.85, 0.2, 0.6, 0.75
MODULE_WEIGHTS = (1.0, 0.6, 0.8, 0.6)
N_STAGES = 4
N_STATS = 4 + 4 * N_STAGES + 3
JAR_ARGS = ("-", "-", "-stdio", "-l", "en", "-norm")
BACKENDS = ("auto", "jar", "jar-filtered", "native")


def sanitize(text: str) -> str:
    """Make a text safe for one `|||`-separated stdio line, as pycocoevalcap does for hypotheses.

    pycocoevalcap drops `|||` and folds one level of double spaces; line breaks would split the
    protocol line, so they become spaces (the jar's normaliser collapses whitespace anyway).
    """
    text = text.replace("\r", " ").replace("\n", " ")
    return text.replace("|||", "").replace("  ", " ")


def meteor_from_stats(stats: np.ndarray) -> np.ndarray:
    """METEOR for each row of sufficient statistics (shape `(..., 23)`), in the jar's arithmetic order."""
    s = np.asarray(stats, dtype=np.float64)
    t_len, r_len, t_fun, r_fun = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    stage = s[..., 4 : 4 + 4 * N_STAGES].reshape(*s.shape[:-1], N_STAGES, 4)
    chunks, t_words, r_words = s[..., -3], s[..., -2], s[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_wlen = DELTA * (t_len - t_fun) + (1.0 - DELTA) * t_fun
        r_wlen = DELTA * (r_len - r_fun) + (1.0 - DELTA) * r_fun
        t_match = np.zeros_like(t_len)
        r_match = np.zeros_like(r_len)
        for i, w in enumerate(MODULE_WEIGHTS):
            t_match = t_match + stage[..., i, 0] * w * DELTA
        for i, w in enumerate(MODULE_WEIGHTS):
            r_match = r_match + stage[..., i, 1] * w * DELTA
        for i, w in enumerate(MODULE_WEIGHTS):
            t_match = t_match + stage[..., i, 2] * w * (1.0 - DELTA)
        for i, w in enumerate(MODULE_WEIGHTS):
            r_match = r_match + stage[..., i, 3] * w * (1.0 - DELTA)
        precision = t_match / t_wlen
        recall = r_match / r_wlen
        f_mean = 1.0 / (((1.0 - ALPHA) / precision) + (ALPHA / recall))
        t_total = stage[..., 0] + stage[..., 2]
        r_total = stage[..., 1] + stage[..., 3]
        t_total = t_total.sum(axis=-1)
        r_total = r_total.sum(axis=-1)
        exact = (t_total == t_len) & (r_total == r_len) & (chunks == 1)
        frag = np.where(exact, 0.0, chunks / ((t_words + r_words) / 2))
        score = f_mean * (1.0 - GAMMA * np.power(frag, BETA))
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))


def sum_stats(stats: np.ndarray) -> np.ndarray:
    """Sum segment statistics as the jar's `MeteorStats.addStats` does.

    The jar skips the chunk count of a segment that matches its reference perfectly (all words of both
    sides matched in one chunk), so such segments add no fragmentation to the corpus score.
    """
    s = np.array(stats, dtype=np.float64, ndmin=2)
    stage = s[:, 4 : 4 + 4 * N_STAGES].reshape(len(s), N_STAGES, 4)
    t_total = (stage[:, :, 0] + stage[:, :, 2]).sum(axis=1)
    r_total = (stage[:, :, 1] + stage[:, :, 3]).sum(axis=1)
    perfect = (t_total == s[:, 0]) & (r_total == s[:, 1]) & (s[:, -3] == 1)
    s[perfect, -3] = 0.0
    return s.sum(axis=0)


def corpus_meteor(stats: np.ndarray) -> float:
    """The jar's corpus METEOR (its `EVAL` answer) for segment statistics of shape `(n, 23)`."""
    if len(stats) == 0:
        return float("nan")
    return float(meteor_from_stats(sum_stats(stats)))


def find_jar() -> Path:
    """Locate `meteor-1.5.jar` inside the installed pycocoevalcap package without importing its code."""
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise XrayBenchError(
            "METEOR (backend 'jar') needs meteor-1.5.jar from the pycocoevalcap package, which is not installed: "
            "pip install 'xraybench[meteor]' (pycocoevalcap==1.2, which ships the jar) and a Java runtime"
        )
    jar = Path(next(iter(spec.submodule_search_locations))) / "meteor" / "meteor-1.5.jar"
    if not jar.is_file():
        raise XrayBenchError(f"METEOR: {jar} is missing from the installed pycocoevalcap package; reinstall it")
    return jar


def require_java() -> str:
    """Path of the `java` command, or a clear error: METEOR is never silently reported as 0."""
    java = shutil.which("java")
    if java is None:
        raise XrayBenchError(
            "METEOR needs a Java runtime (the 'java' command, Java 8 or newer) to run meteor-1.5.jar; "
            "install one (e.g. apt-get install default-jre-headless) — METEOR is never reported as 0 instead"
        )
    return java


class MeteorJar:
    """A persistent `meteor-1.5.jar -stdio` process, fed whole batches through one stream.

    All lines of a batch are written by a writer thread while this thread reads the answers, so large
    batches never deadlock on full pipes and pay no per-line round trip. The process is started on first
    use, restarted if it died, and killed at interpreter exit.
    """

    def __init__(self, jar: Path | None = None, java: str | None = None, paraphrase: Path | None = None):
        self.jar = jar or find_jar()
        self.paraphrase = paraphrase  # None: the jar's own full table
        self.java = java or require_java()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()
        atexit.register(self.close)

    def start(self) -> subprocess.Popen[bytes]:
        """Start the process if it is not running; returns at once (the JVM loads while we tokenize)."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            [str(self.java), "-Xmx2G", "-jar", str(self.jar), *JAR_ARGS]
            + (["-a", str(self.paraphrase)] if self.paraphrase else []),
            cwd=self.jar.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        return self._proc

    def _error(self, what: str) -> XrayBenchError:
        detail = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            detail = self._stderr.read().decode("utf-8", "replace").strip()[-2000:]
        self.close()
        return XrayBenchError(f"METEOR jar failed ({what}){': ' + detail if detail else ''}")

    def _exchange(self, lines: Sequence[str], n_answers: int) -> list[str]:
        proc = self.start()
        assert proc.stdin is not None and proc.stdout is not None
        payload = "".join(line + "\n" for line in lines).encode("utf-8")
        write_error: list[BaseException] = []

        def write() -> None:
            try:
                proc.stdin.write(payload)
                proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                write_error.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        answers = []
        for _ in range(n_answers):
            raw = proc.stdout.readline()
            if not raw:
                writer.join(timeout=1)
                raise self._error(f"process ended after {len(answers)} of {n_answers} answers")
            answer = raw.decode("utf-8").strip()
            if answer.startswith("Error"):
                raise self._error(answer)
            answers.append(answer)
        writer.join()
        if write_error:
            raise self._error(f"could not write to the process: {write_error[0]}")
        return answers

    def stats(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[str]:
        """The jar's sufficient-statistics line for each (hypothesis, references) segment."""
        lines = []
        for hyp, refs in zip(hypotheses, references, strict=True):
            if not refs:
                raise XrayBenchError("METEOR needs at least one reference per hypothesis")
            lines.append(" ||| ".join(("SCORE", " ||| ".join(sanitize(r) for r in refs), sanitize(hyp))))
        with self._lock:
            return self._exchange(lines, len(lines))

    def evaluate(self, stat_lines: Sequence[str]) -> tuple[np.ndarray, float]:
        """Segment scores and the corpus score of summed statistics, exactly as pycocoevalcap asks the jar."""
        if not stat_lines:
            return np.zeros(0), float("nan")
        with self._lock:
            answers = self._exchange(["EVAL ||| " + " ||| ".join(stat_lines)], len(stat_lines) + 1)
        values = np.array([float(a) for a in answers])
        return values[:-1], float(values[-1])

    def close(self) -> None:
        """Close stdin, kill the process and reap it."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


_SHARED_JAR: MeteorJar | None = None
_SHARED_LOCK = threading.Lock()


def shared_jar() -> MeteorJar:
    """One jar process per Python process: starting the JVM and loading tables costs seconds."""
    global _SHARED_JAR
    with _SHARED_LOCK:
        if _SHARED_JAR is None:
            _SHARED_JAR = MeteorJar()
        return _SHARED_JAR


class FilteredJar:
    """The jar run with only the paraphrase entries a batch can use (see `meteor_paraphrase`).

    A process is reused while the next batch needs no entry beyond those it loaded.
    """

    def __init__(self) -> None:
        from xraybench.metrics.meteor_paraphrase import ParaphraseIndex

        self.jar_path = find_jar()
        self.index = ParaphraseIndex(self.jar_path.parent / "data" / "paraphrase-en.gz")
        self._dir = tempfile.TemporaryDirectory(prefix="xraybench-meteor-")
        self._jar: MeteorJar | None = None
        self._entries = np.zeros(0, dtype=np.int64)
        self._count = 0

    def for_texts(self, texts: Sequence[str]) -> MeteorJar:
        entries = self.index.select(texts)
        if self._jar is not None and np.isin(entries, self._entries).all():
            return self._jar
        if self._jar is not None:
            self._jar.close()
        self._count += 1
        table = Path(self._dir.name) / f"paraphrase-{self._count}.gz"
        self.index.write(entries, table)
        self._jar, self._entries = MeteorJar(self.jar_path, paraphrase=table), entries
        return self._jar


_FILTERED: FilteredJar | None = None


def filtered_jar() -> FilteredJar:
    global _FILTERED
    with _SHARED_LOCK:
        if _FILTERED is None:
            _FILTERED = FilteredJar()
        return _FILTERED


_NATIVE: NativeMeteor | None = None


def shared_native() -> NativeMeteor:
    """One `NativeMeteor` per process: its resources and per-word caches are worth keeping."""
    global _NATIVE
    with _SHARED_LOCK:
        if _NATIVE is None:
            from xraybench.metrics.meteor_native import NativeMeteor

            _NATIVE = NativeMeteor(find_jar())
        return _NATIVE


def parse_stats(lines: Sequence[str]) -> np.ndarray:
    """Statistics lines from the jar as an `(n, 23)` float array."""
    out = np.zeros((len(lines), N_STATS), dtype=np.float64)
    for i, line in enumerate(lines):
        values = line.split()
        if len(values) != N_STATS:
            raise XrayBenchError(f"METEOR jar returned {len(values)} statistics for segment {i}, expected {N_STATS}")
        out[i] = [float(v) for v in values]
    return out


class MeteorMetric:
    """METEOR 1.5 as pycocoevalcap computes it: per-sample segment scores, corpus score of summed stats.

    `backend`: "jar" runs pycocoevalcap's jar in a persistent process (needs Java); "jar-filtered" runs
    the same jar with only the paraphrase entries the batch can use (identical values, no 5 s table load);
    "native" is the Python port in `meteor_native` (no Java; the jar file still supplies the resources),
    whose segment statistics the tests prove identical to the jar's; "auto" picks "native".
    `cache`: the token cache shared with the other lexical metrics of a call (each text tokenized once).
    """

    name = "meteor"
    spec = MetricSpec(kinds=("report",), leaderboard=("meteor",), options=LEXICAL_OPTIONS)

    def __init__(self, tokenizer: str = "coco", backend: str = "auto", cache: TokenCache | None = None):
        if backend not in BACKENDS:
            raise XrayBenchError(f"METEOR backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.tokenizer = check_mode(tokenizer)
        self.cache = cache
        self.backend = "native" if backend == "auto" else backend
        if self.backend == "native":
            find_jar()  # the resources come from the jar file; fail now, not after tokenizing
        else:
            require_java()  # fail at construction, before any tokenizing or table indexing
        if self.backend == "jar":
            shared_jar().start()  # JVM start-up overlaps the caller's other work

    def score_texts(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> Scores:
        """Score already aligned texts (each hypothesis with one or more references)."""
        if len(hypotheses) != len(references):
            raise XrayBenchError(f"METEOR got {len(hypotheses)} hypotheses but {len(references)} reference lists")
        # hypotheses and references are tokenized in separate batches, as pycocoevalcap's two PTB calls
        batch = tokenize_batch if self.cache is None else self.cache.batch
        hyps = [" ".join(t) for t in batch(list(hypotheses), self.tokenizer)]
        flat = iter(batch([r for rs in references for r in rs], self.tokenizer))
        refs = [[" ".join(next(flat)) for _ in rs] for rs in references]
        if self.backend == "native":
            stats = shared_native().stats(hyps, refs)
        else:
            if self.backend == "jar":
                jar = shared_jar()
            else:
                jar = filtered_jar().for_texts([sanitize(t) for t in [*hyps, *(r for rs in refs for r in rs)]])
            stats = parse_stats(jar.stats(hyps, refs))
        # the jar's EVAL arithmetic, replayed here (tests prove equality), saves a second jar round trip
        per_sample = meteor_from_stats(stats)
        corpus = corpus_meteor(stats)

        def aggregate(indices: np.ndarray) -> float:
            return corpus_meteor(stats[indices])

        details = {
            "tokenizer": self.tokenizer,
            "backend": self.backend,
            "version": "1.5",
            "options": " ".join(JAR_ARGS[2:]),
        }
        return Scores(self.name, corpus, per_sample, aggregate, details)

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise XrayBenchError(f"METEOR got {len(samples)} samples but {len(predictions)} predictions")
        scores = self.score_texts([p.answer for p in predictions], [s.all_references() for s in samples])
        return {self.name: scores}

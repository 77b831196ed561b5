"""A small linear text classifier (multinomial logistic regression on hashed word and character n-grams).

Pure: no Django; numpy and scipy only. Why this and not a transformer: it trains in seconds on 2 CPU cores,
classifies in well under a millisecond, needs no download, is retrained from analysts' decisions by a command,
and its file (a few hundred kB) ships inside the package. Hashing keeps the vocabulary out of the file (no
tweet or report text can be read back from it) and lets French and English words share one model.

The model file is an .npz: weights (float16), bias, class names and a JSON header (what it was trained on,
when, the hashing size). Its SHA-256 is the artefact hash the oversight log keeps.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

ALGORITHM = "hashed-ngram-logreg-1"
DIM = 2**16
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalise(text: str) -> str:
    text = _MENTION.sub(" @user ", _URL.sub(" http ", text or ""))
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _bucket(feature: str, dim: int) -> int:
    return zlib.crc32(feature.encode()) % dim


def features(text: str, dim: int = DIM) -> dict[int, float]:
    """Hashed counts of words, word pairs and character 3- and 4-grams inside words, L2-normalised."""
    words = [w for w in _WORD.findall(normalise(text)) if w != "rt"]
    counts: dict[int, float] = {}
    grams: list[str] = [f"w:{w}" for w in words]
    grams += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    for w in words:
        padded = f"<{w}>"
        for n in (3, 4):
            grams += [f"c:{padded[i:i + n]}" for i in range(max(0, len(padded) - n + 1))]
    for g in grams:
        b = _bucket(g, dim)
        counts[b] = counts.get(b, 0.0) + 1.0
    norm = float(np.sqrt(sum(v * v for v in counts.values()))) or 1.0
    return {k: v / norm for k, v in counts.items()}


def matrix(texts: Sequence[str], dim: int = DIM) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for i, text in enumerate(texts):
        for k, v in features(text, dim).items():
            rows.append(i)
            cols.append(k)
            vals.append(v)
    return sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(texts), dim))


@dataclass
class Model:
    classes: list[str]
    weights: np.ndarray  # dim x classes
    bias: np.ndarray
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.weights.shape[0])

    def proba(self, texts: Sequence[str], x: sparse.csr_matrix | None = None) -> np.ndarray:
        """Class probabilities; `x` is the texts' feature matrix when the caller built it (shared by models)."""
        x = matrix(texts, self.dim) if x is None else x
        scores = x @ self.weights.astype(np.float32) + self.bias
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes[i] for i in self.proba(texts).argmax(axis=1)]

    def classify(self, text: str, x: sparse.csr_matrix | None = None) -> list[tuple[str, float]]:
        """Classes with their probabilities, most likely first."""
        p = self.proba([text], x)[0]
        order = np.argsort(-p)
        return [(self.classes[i], round(float(p[i]), 4)) for i in order]

    # ------------------------------------------------------------ files

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, weights=self.weights.astype(np.float16), bias=self.bias.astype(np.float32),
                            classes=np.array(self.classes), header=np.array(json.dumps(self.header, sort_keys=True)))
        return buffer.getvalue()

    def save(self, path: Path) -> str:
        """Write atomically; returns the file's SHA-256 (the artefact hash)."""
        data = self.to_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".part")
        temp.write_bytes(data)
        temp.replace(path)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: Path) -> Model:
        with np.load(path, allow_pickle=False) as npz:
            return cls(classes=[str(c) for c in npz["classes"]], weights=npz["weights"].astype(np.float32),
                       bias=npz["bias"], header=json.loads(str(npz["header"])))


def train(texts: Sequence[str], labels: Sequence[str], *, l2: float = 1e-4, balanced: bool = True,
          dim: int = DIM, max_iter: int = 100, header: dict[str, Any] | None = None,
          x: sparse.csr_matrix | None = None) -> Model:
    """Fit by L-BFGS on the mean cross-entropy plus an L2 penalty. `balanced` weighs each class by the
    inverse of its frequency, so rare classes (the ones analysts care about) are not drowned. `x` is the
    feature matrix of `texts` when the caller already built it (cross-validation)."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("need at least two classes to train")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[label] for label in labels])
    x = matrix(texts, dim) if x is None else x
    n, k = x.shape[0], len(classes)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    sample_w = (n / (k * counts))[y] if balanced else np.ones(n)
    sample_w = sample_w / sample_w.sum()
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    xt = x.T.tocsr()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: dim * k].reshape(dim, k)
        b = theta[dim * k:]
        s = np.asarray(x @ w) + b
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        value = -float((sample_w * (onehot * logp).sum(axis=1)).sum()) + 0.5 * l2 * float((w * w).sum())
        d = (np.exp(logp) - onehot) * sample_w[:, None]
        gw = np.asarray(xt @ d) + l2 * w
        gb = d.sum(axis=0)
        return value, np.concatenate([gw.ravel(), gb])

    theta0 = np.zeros(dim * k + k)
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    w = result.x[: dim * k].reshape(dim, k)
    b = result.x[dim * k:]
    head = {"algorithm": ALGORITHM, "dim": dim, "l2": l2, "balanced": balanced, "examples": n,
            "per_class": {c: int(counts[i]) for i, c in enumerate(classes)}, **(header or {})}
    return Model(classes=classes, weights=w, bias=b, header=head)

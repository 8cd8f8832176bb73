"""Pure rules of the coordinating bodies: similarity of a proposed body to the existing ones
(B3, negative list item 3), the single-member flag, the member cap (B4)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

#: Words every body name shares; they say nothing about what a body does.
STOP = ("领导小组", "委员会", "联席会议", "指挥部", "工作", "办公室", "专项", "小组", "市", "省", "区", "县")
NAME_WEIGHT, DUTIES_WEIGHT = 0.6, 0.4


def _normalise(text: str) -> str:
    text = re.sub(r"[\s\W_]+", "", text or "")
    for word in STOP:
        text = text.replace(word, "")
    return text


def bigrams(text: str) -> Counter[str]:
    """Character bigrams (and single characters for a one-character text)."""
    t = _normalise(text)
    if len(t) < 2:
        return Counter(t)
    return Counter(t[i:i + 2] for i in range(len(t) - 1))


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(a[k] * b[k] for k in a.keys() & b.keys())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


@dataclass(frozen=True)
class Candidate:
    id: int
    code: str
    name: str
    duties: str
    jurisdiction: str


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    score: float  # 0 … 1
    name_score: float
    duties_score: float


def similar(name: str, duties: str, existing: Iterable[Candidate], *, limit: int = 5) -> list[Match]:
    """The most similar existing bodies by name and duties (character-bigram cosine), best first."""
    n, d = bigrams(name), bigrams(duties)
    out = []
    for c in existing:
        ns, ds = cosine(n, bigrams(c.name)), cosine(d, bigrams(c.duties))
        out.append(Match(c, round(NAME_WEIGHT * ns + DUTIES_WEIGHT * ds, 4), round(ns, 4), round(ds, 4)))
    out.sort(key=lambda m: (-m.score, m.candidate.code))
    return [m for m in out[:limit] if m.score > 0]

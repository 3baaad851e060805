"""Routing a complaint to handling standards: Chinese segmentation plus BM25 over the standards.

Each standard is a small document: its title (weighted most), keywords, example phrasings, category
names and any dispatcher corrections learned since. A complaint is segmented with jieba (the domain
terms of the table are added to its dictionary so 雨水井盖 or 飞线充电 stay whole) and also cut into
character bigrams, which keeps typos, dialect spellings and missing punctuation from derailing the
match. Hotline boilerplate (市民来电反映, 请相关部门尽快处理 …) is removed before scoring.

The answer is a ranked list with the terms that matched, and `confident` is false when the best
score is weak or a close runner-up belongs to another unit: such texts go to manual triage.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

import jieba

from services.dispatch.catalog import Standard

jieba.setLogLevel(logging.WARNING)

# Words that every complaint has and no standard owns.
BOILERPLATE = re.compile(
    r"市民来电反映|市民来电称|来电人称|来电反映|市民反映|群众反映|网友反映|居民反映|巡查发现|请相关部门|"
    r"尽快处理|及时处理|希望|要求|相关部门|处理一下|谢谢|你好|您好|麻烦|帮忙|请|尽快"
)
STOPWORDS = frozenset(
    "的 了 是 在 我 我们 你 他 她 它 有 和 就 都 也 很 还 又 这 那 这个 那个 一个 什么 怎么 没有 不 吧 啊 呢 吗 "
    "个 被 把 给 到 去 来 上 下 里 说 让 对 为 与 及 或 等 已经 一直 现在 今天 昨天 每天 天天 好几天 几天 "
    "小区 附近 门口 旁边 这边 那边 楼下 路边 家里".split()
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+")

# Context that decides between standards sharing an object. A manhole cover goes to the owner whose
# name is cast on it (GB/T 30428.2 splits covers by owner): (object, marking, unit, title must contain).
CONTEXT_RULES = [
    (re.compile(r"井盖|井口|盖板|圆盖"), re.compile(r"雨水|污水"), "SWJ", "井盖"),
    (re.compile(r"井盖|井口|盖板|圆盖"), re.compile(r"给水|供水|自来水|阀门|水表"), "GSGS", "井盖"),
    (re.compile(r"井盖|井口|盖板|圆盖"), re.compile(r"电力|供电|国网"), "GDGS", "井盖"),
    (re.compile(r"井盖|井口|盖板|圆盖"), re.compile(r"燃气|煤气|天然气"), "RQGS", "井盖"),
    (re.compile(r"井盖|井口|盖板|圆盖"), re.compile(r"电信|通信|联通|移动|广电|光缆"), "DXGS", "井盖"),
]
CONTEXT_BOOST = 1.6

FIELD_WEIGHTS = {"title": 2.0, "keywords": 2.0, "examples": 1.0, "category": 0.5, "learned": 1.5}
K1, B = 1.2, 0.3
BIGRAM_WEIGHT = 1.0
MIN_CONFIDENT_SCORE = 4.0
MIN_MARGIN = 0.12


# Spellings residents and hotline operators use for the same thing, mapped to the table's word.
VARIANTS = {
    "垃级": "垃圾",
    "拉圾": "垃圾",
    "辣鸡": "垃圾",
    "废物箱": "垃圾桶",
    "果皮箱": "垃圾桶",
    "景盖": "井盖",
    "井盖子": "井盖",
    "窨井": "井盖",
    "燥音": "噪音",
    "噪声": "噪音",
    "吵死": "噪音",
    "扰民": "噪音扰民",
    "电瓶车": "电动车",
    "电驴": "电动车",
    "小电驴": "电动车",
    "薪酬": "工资",
    "薪水": "工资",
    "工钱": "工资",
    "血汗钱": "工资",
    "煤气": "燃气",
    "天然气": "燃气",
    "自来水": "供水",
    "路灯不亮": "路灯故障",
}
_VARIANT = re.compile("|".join(sorted(map(re.escape, VARIANTS), key=len, reverse=True)))


def _clean(text: str) -> str:
    text = _VARIANT.sub(lambda m: VARIANTS[m.group(0)], text)
    return BOILERPLATE.sub(" ", text)


def tokens(text: str) -> list[str]:
    """Words (jieba search mode: long domain terms and their parts, minus stopwords) and character bigrams of the Chinese runs."""
    text = _clean(text)
    words = [w for w in jieba.lcut_for_search(text) if _KEEP.fullmatch(w) and w not in STOPWORDS]
    grams = []
    for run in _KEEP.findall(text):
        chars = [c for c in run if _CJK.match(c)]
        grams += ["~" + a + b for a, b in pairwise(chars)]
    return words + grams


@dataclass
class Candidate:
    code: str
    title: str
    department: str
    level: str
    score: float
    matched_terms: list[str]


@dataclass
class Match:
    candidates: list[Candidate]
    confident: bool


@dataclass
class _Doc:
    standard: Standard
    tf: Counter[str] = field(default_factory=Counter)
    length: float = 0.0


class Router:
    def __init__(self, standards: Iterable[Standard], learned: Iterable[tuple[str, str]] = ()) -> None:
        self.standards = {s.code: s for s in standards}
        for s in self.standards.values():
            for term in (s.title, *s.keywords):
                if 2 <= len(term) <= 8 and _CJK.search(term):
                    jieba.add_word(term, freq=2000)
        self._learned: dict[str, list[str]] = defaultdict(list)
        for text, code in learned:
            if code in self.standards:
                self._learned[code].append(text)
        self._build()

    def _build(self) -> None:
        docs: dict[str, _Doc] = {}
        for code, s in self.standards.items():
            d = _Doc(s)
            fields = {
                "title": [s.title],
                "keywords": list(s.keywords),
                "examples": list(s.examples),
                "category": [s.category_l1, s.category_l2],
                "learned": self._learned.get(code, []),
            }
            for name, texts in fields.items():
                for text in texts:
                    for t in tokens(text):
                        w = FIELD_WEIGHTS[name] * (BIGRAM_WEIGHT if t.startswith("~") else 1.0)
                        d.tf[t] += w
            d.length = sum(d.tf.values())
            docs[code] = d
        n = len(docs)
        df: Counter[str] = Counter()
        for d in docs.values():
            df.update(d.tf.keys())
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._avg = sum(d.length for d in docs.values()) / max(n, 1)
        postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for code, d in docs.items():
            norm = K1 * (1 - B + B * d.length / self._avg)
            for t, f in d.tf.items():
                postings[t].append((code, self._idf[t] * f * (K1 + 1) / (f + norm)))
        self._postings = dict(postings)

    def learn(self, text: str, code: str) -> None:
        """A dispatcher's correction: this text belongs to this standard. Later routing uses it."""
        if code not in self.standards:
            raise KeyError(code)
        self._learned[code].append(text)
        self._build()

    def match(self, text: str, top_k: int = 3) -> Match:
        scores: Counter[str] = Counter()
        hits: dict[str, list[str]] = defaultdict(list)
        for t in set(tokens(text)):
            for code, w in self._postings.get(t, ()):
                scores[code] += w
                if not t.startswith("~"):
                    hits[code].append(t)
        cleaned = _clean(text)
        fired = {
            (unit, part)
            for obj, marking, unit, part in CONTEXT_RULES
            if obj.search(cleaned) and marking.search(cleaned)
        }
        if fired:
            parts = {part for _, part in fired}
            units = {unit for unit, _ in fired}
            for code in scores:
                st = self.standards[code]
                if any(part in st.title for part in parts):
                    # the marking names the owner: its standards rise, other owners' fall
                    scores[code] *= CONTEXT_BOOST if st.unit in units else 1 / CONTEXT_BOOST
        ranked = scores.most_common(max(top_k, 2))
        candidates = [
            Candidate(
                code=c,
                title=self.standards[c].title,
                department=self.standards[c].unit,
                level=self.standards[c].level,
                score=round(s, 3),
                matched_terms=sorted(hits[c]),
            )
            for c, s in ranked[:top_k]
        ]
        confident = False
        # Confidence needs a whole word in common, not only character pairs (天气不错 shares 气不 with 气压不足).
        if ranked and ranked[0][1] >= MIN_CONFIDENT_SCORE and hits[ranked[0][0]]:
            first, second = ranked[0], ranked[1] if len(ranked) > 1 else (None, 0.0)
            same_unit = (
                second[0] is not None and self.standards[second[0]].unit == self.standards[first[0]].unit
            )
            confident = same_unit or (first[1] - second[1]) / first[1] >= MIN_MARGIN
        return Match(candidates=candidates, confident=confident)

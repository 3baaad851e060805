"""Routing a complaint to handling standards: Chinese segmentation plus BM25 over the standards.

Each standard is a small document: its title (weighted most), keywords, example phrasings, category
names and any dispatcher corrections learned since. A complaint is segmented with jieba (the domain
terms of the table are added to its dictionary so 雨水井盖 or 飞线充电 stay whole) and also cut into
character bigrams, which keeps typos, dialect spellings and missing punctuation from derailing the
match.

Before scoring, text goes through two normalisations, applied alike to complaints and standards (so
they always agree): hotline boilerplate (市民来电反映：…请相关部门尽快处理) and anonymised place
holders (XX路, 某小区) are dropped, and colloquial, dialect and mistyped words are mapped to the
table's word (电频车 → 电动车, 窟窿 → 坑, 景盖 → 井盖). Most vocabulary lives in the table's
keywords and examples, not here, so the people who maintain the standards can extend it.

Bag-of-words cannot tell the same object apart by its context: noise from a building site, a
neighbour's party or a factory; a burst main under the road or a leaking riser in a stairwell; a
manhole cover by the owner cast on it; black smoke from a chimney or from someone burning rubbish.
`CONTEXT_RULES` encode those distinctions as multiplicative boosts and demotions of the BM25 scores,
each rule naming the situation it recognises, the context it needs and the context that vetoes it.

The index is kept as term frequencies per standard and postings per term; the BM25 weight is computed
at query time from them, so `learn` (a dispatcher's correction) only re-counts the one standard it
touches.

The answer is a ranked list with the terms that matched, and `confident` is false when the best
standard shares no whole word with the text or the best standard of another unit comes within
`MIN_MARGIN` of it: such texts go to manual triage.
"""

from __future__ import annotations

import heapq
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from operator import itemgetter

import jieba

from services.dispatch.catalog import Standard

jieba.setLogLevel(logging.WARNING)

# Words that every complaint has and no standard owns. Place holders (XX路, 某小区) come from
# anonymised hotline records and would otherwise match each other across unrelated complaints.
BOILERPLATE = re.compile(
    r"市民来电反映|市民来电称|市民来电|来电人反映|来电人咨询|来电人称|来电人|来电反映|来电称|市民反映|"
    r"群众反映|网友反映|居民反映|网格员巡查|网格员报告|网格员|巡查发现|请相关部门|相关部门|有没有人管管|"
    r"有没有人来管管|有人管吗|快管管|管一管|尽快处理|及时处理|希望|要求|处理一下|谢谢|你好|您好|麻烦|"
    r"帮忙|请|尽快|XX|某"
)
STOPWORDS = frozenset(
    "的 了 是 在 我 我们 你 他 她 它 有 和 就 都 也 很 还 又 这 那 这个 那个 一个 什么 怎么 没有 不 吧 啊 呢 吗 "
    "个 被 把 给 到 去 来 上 下 里 说 让 对 为 与 及 或 等 已经 一直 现在 今天 昨天 每天 天天 好几天 几天 "
    "小区 附近 门口 旁边 这边 那边 楼下 路边 家里 晚上 一下 一个 好几 这家 那家 有人 有个 一堆 看着 "
    "差点 根本 特别 一股 还是 就是 可以 能不能 怎么办 半天 好多 很多 整个 一片".split()
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+")

# Spellings residents and hotline operators use for the same thing, mapped to the table's word.
# Applied before segmentation to complaints and standards alike, longest spelling first.
VARIANTS = {
    # rubbish and litter
    "垃级": "垃圾",
    "拉圾": "垃圾",
    "辣鸡": "垃圾",
    "废物箱": "垃圾桶",
    "果皮箱": "垃圾桶",
    "废弃物": "垃圾",
    "煤灰": "垃圾",
    "碎纸屑": "垃圾",
    "纸屑": "垃圾",
    "席梦思": "床垫",
    "破椅子": "旧家具",
    "破沙发": "旧沙发",
    # construction spoil
    "拉土的大车": "渣土车",
    "拉土的车": "渣土车",
    "拉土车": "渣土车",
    "拉渣土的车": "渣土车",
    "运土车": "渣土车",
    "泥块": "土块",
    "黄土": "渣土",
    # roads
    "窟窿": "坑",
    "凹陷": "下沉",
    "陷下去": "塌陷",
    "裂开": "裂缝",
    "口子": "裂缝",
    "方砖": "地砖",
    "铁杆子": "杆桩",
    # covers
    "景盖": "井盖",
    "井盖子": "井盖",
    "窨井": "井盖",
    "铁盖子": "井盖",
    "圆盖板": "井盖",
    "检查井井盖": "井盖",
    # noise
    "燥音": "噪音",
    "噪声": "噪音",
    "吵死": "噪音",
    "扰民": "噪音扰民",
    "唱K": "唱歌",
    "K歌": "唱歌",
    "卡拉OK": "KTV",
    # e-bikes
    "电瓶车": "电动车",
    "电频车": "电动车",
    "电平车": "电动车",
    "电驴": "电动车",
    "小电驴": "电动车",
    "电单车": "电动车",
    # pay
    "薪酬": "工资",
    "薪水": "工资",
    "工钱": "工资",
    "血汗钱": "工资",
    # utilities
    "煤气": "燃气",
    "天然气": "燃气",
    "自来水": "供水",
    "路灯不亮": "路灯故障",
    "红路灯": "红绿灯",
    # everything else
    "蹦蹦床": "蹦床",
    "淘气堡": "游乐设施",
    "坟包": "坟头",
    "坟堆": "坟头",
    "网咖": "网吧",
    "护理员": "护工",
}
_VARIANT = re.compile("|".join(sorted(map(re.escape, VARIANTS), key=len, reverse=True)))

FIELD_WEIGHTS = {"title": 2.0, "keywords": 2.0, "examples": 1.0, "category": 0.5, "learned": 3.0}
K1, B = 1.2, 0.3
BIGRAM_WEIGHT = 1.0
MIN_CONFIDENT_SCORE = 4.0
# Chosen without labels: the relative lead over the best other unit at which about four texts in
# five are routed directly, the rest (the ambiguous fifth) going to a dispatcher.
MIN_MARGIN = 0.35


@dataclass(frozen=True)
class ContextRule:
    """When `when` (and `context`, if given) match and `unless` does not, scores of `targets` are multiplied by `factor`.

    A target is a standard code ("010501"), a unit ("CGJ"), or a unit and a word its title contains
    ("SWJ/井盖"; "*/井盖" for every unit).
    """

    when: str
    targets: tuple[str, ...]
    factor: float
    context: str | None = None
    unless: str | None = None
    spare: tuple[str, ...] = ()  # targets excepted from `targets`


def _covers(marking: str, owner: str) -> list[ContextRule]:
    # A manhole cover goes to the owner whose name is cast on it (GB/T 30428.2 splits covers by
    # owner): that owner's cover standards rise, every other cover falls.
    return [
        ContextRule(COVER, (f"{owner}/井盖",), 1.6, context=marking),
        ContextRule(COVER, ("*/井盖",), 1 / 1.6, context=marking, spare=(f"{owner}/井盖",)),
    ]


COVER = r"井盖|井口|盖板|圆盖|铁盖|盖子"
SITE = r"工地|施工|打桩|浇筑|搅拌|盖楼|脚手架|塔吊|卸钢管|渣土"
FACTORY = r"工厂|厂房|厂子|厂里|车间|工业园|加工|作坊|冲床|机器|生产线|厂区"
HOME = r"楼上|楼下住户|邻居|隔壁.{0,3}(家|住户)|住户|在家|家里|对门|出租屋|装修"
BUILDING = r"楼道|楼内|楼里|单元|楼梯间|管道井|总管|家里|卫生间|厨房|地漏|楼上|墙"
CONTEXT_RULES: list[ContextRule] = [
    *_covers(r"雨水|污水", "SWJ"),
    *_covers(r"给水|供水|阀门|水表", "GSGS"),
    *_covers(r"电力|供电|国网|电缆", "GDGS"),
    *_covers(r"燃气", "RQGS"),
    *_covers(r"电信|通信|联通|移动|广电|光缆", "DXGS"),
    # Noise by source (2022 noise law): building sites to 城管, homes to police, factories to 环保,
    # vehicles to traffic police.
    ContextRule(r"吵|噪音|响|轰|哐|咣", ("030101",), 1.5, context=SITE),
    ContextRule(r"吵|噪音|唱歌|蹦|跺|拉桌子|聚会|派对", ("350201",), 1.5, context=HOME, unless=SITE),
    ContextRule(r"吵|噪音|响|轰|咣|嗡嗡|刺啦", ("STJ",), 1.4, context=FACTORY, unless=HOME + "|" + SITE),
    ContextRule(r"吵|噪音|响|轰", ("370302", "370303"), 1.4, context=r"摩托|改装|排气|炸街|飙车|喇叭|鸣笛"),
    # Water: a main bursting in the street is the water company's, a pipe inside a block is housing's.
    ContextRule(r"水管|管子|漏水|喷水|冒水|滋", ("300202", "300203"), 1.6, context=BUILDING),
    ContextRule(r"水管|管子|漏水|喷水|冒水|滋", ("700101", "630301"), 0.6, context=BUILDING),
    # Smoke: a chimney or boiler is 环保's, someone burning rubbish or leaves in the open is 城管's,
    # a substation smoking is the power company's.
    ContextRule(
        r"烧|点火|焚",
        ("010501",),
        1.6,
        context=r"纸箱|塑料|垃圾|树叶|杂物|秸秆|废品|枯草",
        unless=FACTORY + r"|烟囱|锅炉",
    ),
    ContextRule(r"黑烟|冒烟", ("080103",), 0.6, unless=FACTORY + r"|烟囱|锅炉|窑"),
    ContextRule(r"配电|变压器|箱变|电箱", ("GDGS",), 1.6),
    # Antiquities only when something old or listed is named; graffiti elsewhere is 城管's.
    ContextRule(
        r".",
        ("670301", "670302"),
        0.6,
        unless=r"文物|古|碑|祠|文保|保护单位|历史|老宅|故居|民国|清代|明代|墓",
    ),
    # Paints and thinners stored by the barrel are a hazardous-goods matter, spraying is pollution.
    ContextRule(r"稀释剂|稀料|天那水|油漆桶|几十桶|好多桶", ("330101",), 1.6, unless=r"喷"),
    # Old people's allowances belong to civil affairs even when the pension is mentioned in passing.
    ContextRule(r"补贴|津贴", ("600201",), 1.5, context=r"老人|岁|老太|老爷|[七八九]十"),
    # A whole block going dark is a power cut, not a street light.
    ContextRule(
        r"全黑|黑了|没电|停电", ("GDGS",), 1.4, context=r"整个小区|全楼|整栋|整个楼|一片|电梯|冰箱|家里"
    ),
]


# What a complaint says it is *not* must not vote for it: 不是工地施工 is exactly not construction noise.
# The negated phrase runs to the next punctuation, 而/是/的, or at most six characters; 是不是 asks, it
# does not deny.
NEGATED = re.compile(
    r"(?:并不是|(?<!是)不是|并非|不属于)[在从]?[\u4e00-\u9fff]{1,6}?(?=[，,。；;！!？?、\s]|而|是|的|$)"
)


def _clean(text: str) -> str:
    text = _VARIANT.sub(lambda m: VARIANTS[m.group(0)], text)
    text = NEGATED.sub(" ", text)
    return BOILERPLATE.sub(" ", text)


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    text = _clean(text)
    words = [w for w in jieba.lcut_for_search(text) if _KEEP.fullmatch(w) and w not in STOPWORDS]
    grams = []
    for run in _KEEP.findall(text):
        chars = [c for c in run if _CJK.match(c)]
        grams += ["~" + a + b for a, b in pairwise(chars)]
    return (*words, *grams)


def tokens(text: str) -> list[str]:
    """Words (jieba search mode: long domain terms and their parts, minus stopwords) and character bigrams of the Chinese runs."""
    return list(_tokens(text))


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


class Router:
    def __init__(self, standards: Iterable[Standard], learned: Iterable[tuple[str, str]] = ()) -> None:
        self.standards = {s.code: s for s in standards}
        added = False
        for s in self.standards.values():
            for term in (s.title, *s.keywords):
                if 2 <= len(term) <= 8 and _CJK.search(term) and jieba.get_FREQ(term) != 2000:
                    jieba.add_word(term, freq=2000)
                    added = True
        if added:
            _tokens.cache_clear()  # segmentation changed with the dictionary
        self._rules = [
            (
                re.compile(r.when),
                r.context and re.compile(r.context),
                r.unless and re.compile(r.unless),
                self._resolve(r.targets) - self._resolve(r.spare),
                r.factor,
            )
            for r in CONTEXT_RULES
        ]
        self._unit = {code: s.unit for code, s in self.standards.items()}
        self._tf: dict[str, Counter[str]] = {}
        self._postings: dict[str, dict[str, float]] = defaultdict(dict)  # term -> code -> tf
        self._weights: dict[str, list[tuple[str, float]]] = {}  # term -> (code, BM25 weight)
        self._length: dict[str, float] = {}
        for code, s in self.standards.items():
            tf: Counter[str] = Counter()
            fields = {
                "title": [s.title],
                "keywords": list(s.keywords),
                "examples": list(s.examples),
                "category": [s.category_l1, s.category_l2],
            }
            for name, texts in fields.items():
                for text in texts:
                    self._count(tf, text, FIELD_WEIGHTS[name])
            self._tf[code] = tf
        for text, code in learned:
            if code in self.standards:
                self._count(self._tf[code], text, FIELD_WEIGHTS["learned"])
        for code, tf in self._tf.items():
            for t, f in tf.items():
                self._postings[t][code] = f
            self._length[code] = sum(tf.values())
        # The average length is fixed here: a correction adds a few terms to one of 285 documents and
        # would otherwise force every weight to be recomputed.
        self._avg = sum(self._length.values()) / max(len(self._length), 1)
        self._norm = {c: self._bm25_norm(n) for c, n in self._length.items()}
        for t in self._postings:
            self._reweight(t)

    def _resolve(self, targets: tuple[str, ...]) -> frozenset[str]:
        codes = set()
        for t in targets:
            unit, _, word = t.partition("/")
            for code, s in self.standards.items():
                if code == t or (unit in ("*", s.unit) and word in s.title):
                    codes.add(code)
        return frozenset(codes)

    @staticmethod
    def _count(tf: Counter[str], text: str, weight: float) -> None:
        for t in _tokens(text):
            tf[t] += weight * (BIGRAM_WEIGHT if t.startswith("~") else 1.0)

    def _bm25_norm(self, length: float) -> float:
        return K1 * (1 - B + B * length / self._avg)

    def _reweight(self, term: str) -> None:
        posting = self._postings[term]
        n, df = len(self._tf), len(posting)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        self._weights[term] = [
            (code, idf * f * (K1 + 1) / (f + self._norm[code])) for code, f in posting.items()
        ]

    def learn(self, text: str, code: str) -> None:
        """A dispatcher's correction: this text belongs to this standard. Later routing uses it.

        Only that standard is re-counted, and only the weights of its terms are recomputed (its length
        changed, and the new terms' document frequencies): about a millisecond, not a rebuild.
        """
        if code not in self.standards:
            raise KeyError(code)
        tf = self._tf[code]
        self._count(tf, text, FIELD_WEIGHTS["learned"])
        for t, f in tf.items():
            self._postings[t][code] = f
        self._length[code] = sum(tf.values())
        self._norm[code] = self._bm25_norm(self._length[code])
        for t in tf:
            self._reweight(t)

    def match(self, text: str, top_k: int = 3) -> Match:
        scores: defaultdict[str, float] = defaultdict(float)
        query = set(_tokens(text))
        for t in query:
            for code, w in self._weights.get(t, ()):
                scores[code] += w
        cleaned = _clean(text)
        for when, context, unless, targets, factor in self._rules:
            if (
                when.search(cleaned)
                and (not context or context.search(cleaned))
                and not (unless and unless.search(cleaned))
            ):
                for code in targets:
                    if code in scores:
                        scores[code] *= factor
        ranked = heapq.nlargest(max(top_k, 2), scores.items(), key=itemgetter(1))
        words = [t for t in query if not t.startswith("~")]
        hits = {c: sorted(t for t in words if c in self._postings.get(t, ())) for c, _ in ranked}
        candidates = [
            Candidate(
                code=c,
                title=self.standards[c].title,
                department=self._unit[c],
                level=self.standards[c].level,
                score=round(s, 3),
                matched_terms=hits[c],
            )
            for c, s in ranked[:top_k]
        ]
        confident = False
        # Confidence needs a whole word in common, not only character pairs (天气不错 shares 气不 with 气压不足),
        # a score well above noise, and a clear lead over the best standard of any other unit.
        if ranked and ranked[0][1] >= MIN_CONFIDENT_SCORE and hits[ranked[0][0]]:
            top_code, top = ranked[0]
            unit = self._unit[top_code]
            rival = max((v for c, v in scores.items() if self._unit[c] != unit), default=0.0)
            confident = (top - rival) / top >= MIN_MARGIN
        return Match(candidates=candidates, confident=confident)

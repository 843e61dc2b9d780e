"""What a question asks: its words, the names it is about, and the kind of answer it wants.

The kinds are general (a number, a date, a price, a ratio, a score, a person or organisation, a command, a path,
a port, a package, a version, a list, a name), recognised from the question's wording in Chinese and English.
A kind with a recognisable shape (digits for a number, ``/etc/...`` for a path) lets the answerer refuse a
sentence that is about the right thing but does not hold the answer: the difference between "the passage
describes MMLU" and "the passage gives Qwen-14B's MMLU score".

>>> q = analyze("What score did Qwen-14B achieve on MMLU?")
>>> q.lang, q.entities, q.names, sorted(q.kinds)
('en', ['qwen14b'], ['mmlu'], ['score'])
>>> analyze("文心大模型 4.0 是什么时候发布的？").versions
['4.0']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ragkit.prompts import lang_of
from ragkit.terms import latin_name

_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:[-_.+/][A-Za-z0-9]+)*")
_VERSION = re.compile(r"(?<![\w.-])[vV]?\d+(?:\.\d+)+(?![\w.])|(?<![\w.-])[vV]\d+(?:\.\d+)*(?![\w.])")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_EXCLUDED = re.compile(r"(?:不是|并非|而非|而不是|\bnot\b|\brather than\b|\bother than\b|\bexcept\b)\s*"
                       r"([A-Za-z0-9][\w.+-]*(?:\s\d+(?:\.\d+)?[A-Za-z]?)?)", re.I)
_QUOTED = re.compile(r"[“\"「『《]([^”\"」』》]{2,40})[”\"」』》]")
# the English words that start a question or a clause are capitalised without being names
ENGLISH_COMMON = frozenset(
    """what which who whom whose when where why how is are was were do does did can could should would will in on
    at by for of to and or the a an according if i my we our you your it its this that these those there their
    they them he she his her as with from after before between about into over under than then so such be been
    being has have had not no yes also just only please tell give list name""".split())

# kind -> (how a question asks for it, what an answer to it looks like; None: no reliable shape)
KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str] | None]] = {
    "price": (re.compile(r"多少钱|(?:价格|定价|费用|收费|售价|价钱|付费|订阅费).{0,10}(?:多少|几)|(?:多少|几).{0,4}(?:美元|元|钱|美金)|"
                         r"\bhow much\b.*\b(?:cost|pay|charge|spend)|\b(?:price|cost|fee)s? (?:of|for|per|in)\b|"
                         r"\bwhat (?:is|was|are) the (?:\w+ )?(?:price|cost|fee)", re.I),
              re.compile(r"\d\s*(?:元|美元|美金|块|刀|dollars?|usd|rmb|cents?)|[$￥¥€][^\d\n]{0,16}\d|"
                         r"\d+(?:\.\d+)?\s*/\s*(?:月|年|month|year)|"
                         r"[（(]\s*(?:万元|元|美元|美金|usd|rmb|cny|[$￥¥€])\s*[)）]\s*[:：]\s*\d", re.I)),
    "ratio": (re.compile(r"比例|比率|百分之|百分比|占比|多少倍|几倍|几分之几|\bratio|\bpercent|\bpercentage|what share|how many times",
                         re.I),
              re.compile(r"\d\s*%|\d\s*[:：比]\s*\d|\d+(?:\.\d+)?\s*倍|百分之|分之|\bpercent\b|\btimes\b", re.I)),
    "score": (re.compile(r"分数|得分|成绩|评分|分值|排行榜|\bscore|\bpoints?\b|\baccuracy\b", re.I), re.compile(r"\d")),
    "date": (re.compile(r"什么时候|何时|哪一年|哪年|哪天|哪一天|几月|几号|哪个月|日期|截止|\bwhen\b|what year|what date|which year|"
                        r"what month|which month|\bdate\b|\bcutoff\b|\bcut-off\b", re.I),
             re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|(?:19|20)\d{2}|\d{4}[-./]\d{1,2}|\b(?:jan|feb|mar|apr|may|jun|"
                        r"jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)),
    "number": (re.compile(r"多少|几(?:个|种|项|位|层|张|台|天|年|周|小时|分钟|秒|次|行|步|级|条)|多大|多长|多高|多久|多远|多快|多重|规模|数量|参数量|"
                          r"\bhow (?:many|much|long|large|big|fast|far|old|high)\b|\bwhat (?:size|number)\b|\bcount\b|\bnumber of\b|"
                          r"\bsizes?\b|\blength\b", re.I),
               re.compile(r"\d|[一二三四五六七八九十百千万亿两]+\s*(?:个|种|项|位|层|倍|亿|万|千)")),
    "person": (re.compile(r"谁|作者|创始人|创办人|发明人|提出者|负责人|\bwho\b|\bwhom\b|\bauthor|\bfounder|\binventor", re.I),
               re.compile(r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+|[A-Z][A-Za-z]*(?:\s(?:AI|Labs?|Inc\.?|Research))|"
                          r"[\u4e00-\u9fff]{2,4}(?=(?:等人|教授|博士|团队|官宣|创办|创立|提出|发布|开发|推出))|"
                          r"公司|团队|实验室|大学|研究院|研究所|机构")),
    "organization": (re.compile(r"哪家公司|什么公司|哪个公司|哪家机构|哪个机构|什么机构|哪个团队|哪个组织|哪所大学|哪所高校|"
                                r"哪个高校|哪所学校|哪个大学|哪个实验室|哪家厂商|哪个厂商|"
                                r"\bwhich (?:company|organi[sz]ation|lab|laboratory|team|university|firm|institution)|"
                                r"\bwhat (?:company|organi[sz]ation|lab|team|university)", re.I),
                     re.compile(r"公司|团队|实验室|大学|研究院|研究所|机构|集团|[A-Z][A-Za-z]+(?:\s[A-Z][A-Za-z]+)*|"
                                r"[a-z]+\.(?:ai|com|org)\b")),
    "command": (re.compile(r"命令|指令行|命令行|用什么.{0,4}(?:执行|运行|安装)|\bcommand|\bhow (?:do|can|to) (?:i |you )?"
                           r"(?:run|install|start|stop|enable|restart)", re.I),
                re.compile(r"`[^`]{2,}`|^(?:sudo\s+)?[a-z][\w.+-]*(?:\s+-{1,2}[\w-]+|\s+[\w./:=-]+)+\s*$|"
                           r"(?:sudo|apt|apt-get|aptitude|dpkg|systemctl|service|pip|git|docker|make|sh|bash)\s+\S+|"
                           r"[“「][a-z][\w.+-]*(?:\s+[^”」\s]+)*[”」]", re.I | re.M)),
    "path": (re.compile(r"路径|(?:哪|什么|哪一)(?:个|些)?(?:目录|文件夹|文件|配置文件)|(?:目录|文件夹|文件)(?:是|在)(?:哪|什么)|在哪个?(?:目录|文件)|文件名|存放在|位于哪|放在哪|\bpath\b|\bdirectory|\bfolder|"
                        r"\bwhich file|\bwhat file|\bwhere (?:is|are|does|do)\b.*\b(?:stored|kept|located|saved|configured)", re.I),
             re.compile(r"(?:^|[\s`(（“'\"：:，,、])(?:~|\.{1,2})?/[\w.@-]+(?:/[\w.@*-]*)*|[A-Za-z]:\\\\|"
                        r"\b[\w-]+\.(?:conf|cfg|ini|list|txt|json|ya?ml|toml|log|sh|py|service|d|rc|xml|properties)\b")),
    "port": (re.compile(r"端口|\bports?\b", re.I),
             re.compile(r"端口\s*(?:号)?\s*(?:是|为|[（(：:])?\s*\d{2,5}|\d{2,5}\s*端口|\bport\s*\d{2,5}|:\d{2,5}\b|\b\d{2,5}/(?:tcp|udp)\b", re.I)),
    "package": (re.compile(r"(?:哪|什么|哪一)(?:个|些)?(?:软件包|安装包|包)|包名|软件包名|"
                             r"\b(?:which|what)\s+(?:[\w-]+\s+){0,2}packages?\b|\bpackage name", re.I),
                re.compile(r"`[a-z0-9][a-z0-9+.-]+`|(?:install|安装)\s+[a-z0-9][a-z0-9+.-]+|\b[a-z0-9]+(?:-[a-z0-9]+)+\b", re.I)),
    "version": (re.compile(r"版本号|哪个版本|什么版本|哪一版|\bwhat version|\bwhich version|\bversion number", re.I),
                re.compile(r"[vV]?\d+(?:\.\d+)+|[vV]\d+|[A-Za-z]\s?\d+\s*(?:协议|版)|第\s*\d+\s*版|版本\s*\d+")),
    "list": (re.compile(r"哪些|哪几|包括哪|有哪|包含哪|分别是|\bwhat are the\b|\bwhich (?:models|ones|languages)\b|^list\b",
                        re.I), None),
    "name": (re.compile(r"叫什么|名字|名称|称为|哪个模型|什么模型|哪款|哪种|哪一个|哪个|是哪(?![一天年月])|什么项目|什么技术|什么方法|什么框架|"
                        r"\bcalled\b|\bnamed?\b|\bwhich\b|\bwhat (?:model|project|technique|method|framework|mechanism|"
                        r"format|dataset|library)", re.I), None),
    "definition": (re.compile(r"是什么(?!时候)|指的是|什么是|什么意思|定义|代表什么|的全称|\bwhat (?:is|are|does)\b.*\b(?:mean|stand for)\b|"
                              r"\bstand for\b|\bwhat is an?\b|\bdefin", re.I), None),
}
# kinds whose answers have a shape: a passage without one does not answer the question
SHAPED = frozenset(kind for kind, (_, answer) in KINDS.items()
                   if answer is not None and kind not in ("person", "organization"))  # Chinese names have no shape


@dataclass(frozen=True)
class Query:
    """A question as the answerer reads it.

    ``entities`` are names a passage must contain to answer (identifiers like ``GPT-5``, ``ChatGLM``, Latin
    words in a Chinese question, the knowledge base's own names); ``names`` adds the weaker ones (capitalised
    words of an English question: ``Koala``, ``Google``) that an answer should be about when the passages know
    them.
    """

    text: str
    lang: str
    entities: list[str] = field(default_factory=list)  # lower case, spaces removed
    names: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    kinds: frozenset[str] = frozenset()
    excluded: list[str] = field(default_factory=list)  # names the question rules out: "（不是 GPT-NeoX）"

    def shaped(self) -> frozenset[str]:
        """The asked kinds that a passage must show to answer."""
        kinds = self.kinds & SHAPED
        if kinds & {"price", "ratio", "score", "date", "version"}:  # the most specific kind decides
            kinds -= {"number"}
        return kinds


def entity_key(text: str) -> str:
    """How names are compared: lower case, without spaces, hyphens and underscores (GPT-4, GPT4, gpt 4)."""
    return re.sub(r"[\s_-]+", "", text).lower()


def _names(question: str, known: Iterable[str]) -> tuple[list[str], list[str]]:
    """(strong names, weak names) of a question; see :class:`Query`."""
    strong: list[str] = []
    weak: list[str] = []
    english = lang_of(question) == "en"
    consumed = -1
    for match in _LATIN_WORD.finditer(question):
        word = match.group()
        if match.start() < consumed or _VERSION.fullmatch(word) or _NUMBER.match(word):
            continue
        if word.lower() in ENGLISH_COMMON or len(word) < 2:
            continue
        version = re.match(r"\s(\d+(?:\.\d+)?[A-Za-z]?)\b", question[match.end():])  # "Claude 3.5", "LLaMA 65B"
        key = entity_key(word + (version.group(1) if version else ""))
        consumed = match.end() + (version.end() if version else 0)
        if english and re.fullmatch(r"[A-Z]{2,5}s?", word):
            weak.append(key)  # an acronym in English prose: GPU, US, MMLU may be written out in the documents
        elif latin_name(word) and not (english and re.fullmatch(r"[a-z]+(?:-[a-z]+)+", word)):
            strong.append(key)  # an identifier; "fine-tuned" in English prose is a word
        elif not english and word[0].isupper():
            strong.append(key)  # a capitalised Latin word in a Chinese question is a name
        elif english and word[0].isupper() and match.start() > 0:
            (strong if version else weak).append(key)  # "Falcon 180B" is an identifier, "Koala" a word
        elif not english and len(word) >= 3:
            weak.append(key)  # a lowercase Latin word in a Chinese question names a program or a term: postfix
    flat = entity_key(question)
    chinese = {n for n in known if len(n) >= 2 and _CJK.search(n) and n[0] in flat}  # Latin names: see above
    for name in sorted(chinese, key=len, reverse=True):
        key = entity_key(name)
        if key in flat and not any(key in f or f in key for f in strong + weak):
            strong.append(key)  # Latin-script names are recognised by their writing above
    return list(dict.fromkeys(strong)), [w for w in dict.fromkeys(weak) if w not in strong]


def entities(question: str, names: Iterable[str] = ()) -> list[str]:
    """Names a passage must contain to answer the question: identifiers and Latin-script names (``GPT-5``,
    ``Claude 3.5``, ``MMLU``) and the knowledge base's own names (``names``, e.g. learned Chinese terms).

    >>> entities("Claude 3.5 Sonnet 的上下文长度是多少？"), entities("GPT-4 Turbo 的上下文？")
    (['claude3.5', 'sonnet'], ['gpt4', 'turbo'])
    >>> entities("通义千问是哪家公司研发的？", names=["通义千问"]), entities("How much Chinese data was PaLM 540B fine-tuned on?")
    (['通义千问'], ['palm540b'])
    """
    return _names(question, names)[0]


def missing(question: str, texts: Iterable[str], names: Iterable[str] = ()) -> list[str]:
    """The names and version numbers of a question that none of ``texts`` contains (then nothing there can
    answer it).

    >>> missing("GPT-5 是哪一天发布的？", ["GPT-4 于 2023 年发布。"]), missing("GPT4 呢？", ["GPT-4 于 2023 年发布。"])
    (['gpt5'], [])
    """
    query = analyze(question, names)
    keys = [entity_key(t) for t in texts]
    return [e for e in query.entities + query.versions if all(e not in k for k in keys)]


_EN_CATEGORY = re.compile(r"\b(?:which|what)\s+((?:[a-z][a-z-]*\s+){0,3}?)([a-z]+)\s+(?:is|are|was|were|did|does|do|"
                          r"has|have|had|can|could|would|will|lets|let|makes|made|that|of|for|in|on|by|to|from|"
                          r"said|called|named|set|reach)\b", re.I)
_ZH_CATEGORY = re.compile(r"(?:哪|什么)(?:一)?(?:个|种|款|类|项|些)?([\u4e00-\u9fff]{2,4}?)(?:的|是|呢|？|\?|，|$)")


def category(question: str) -> str | None:
    """The kind of thing asked for, as the question names it: "Which technique lets..." -> "technique",
    "用了什么位置编码？" -> "位置编码".

    >>> category("Which low-precision number format did the paper show?"), category("Baichuan-13B 使用什么位置编码？")
    ('format', '位置编码')
    """
    if match := _EN_CATEGORY.search(question):
        return match.group(2).lower()
    if match := _ZH_CATEGORY.search(question):
        return match.group(1)
    return None


def analyze(question: str, names: Iterable[str] = ()) -> Query:
    """Read a question: language, names (see :class:`Query`), version numbers and the kinds of answer asked."""
    kinds = frozenset(kind for kind, (asked, _) in KINDS.items() if asked.search(question))
    versions = [m.group().lstrip("vV") for m in _VERSION.finditer(question)]
    strong, weak = _names(question, names)
    excluded = [entity_key(m.group(1)) for m in _EXCLUDED.finditer(question)]
    return Query(question, lang_of(question), strong, weak, versions, kinds, excluded)


_DATE_EXPRESSION = re.compile(r"(?:19|20)\d{2}\s*[-./]\s*\d{1,2}(?:\s*[-./]\s*\d{1,2})?|(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月)?"
                              r"(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\b(?:19|20)\d{2}\b")
# a name's version or generation ("Gemini 1.0", "Baichuan 2", "V3.5"), not a quantity ("LLaMA 65B", "8k")
_NAME_VERSION = re.compile(r"[A-Za-z][A-Za-z-]*\s?[vV]?\d+(?:\.\d+)*(?![\d.]*\s*(?:[A-Za-z%]|亿|万|千|倍|个))|"
                           r"(?<![\w.])[vV]\d+(?:\.\d+)*")
_QUANTITY = re.compile(r"(?<![A-Za-z_.\-\d])\d")
_MAN_PAGE = re.compile(r"\b[\w.+-]+\(\d[a-z]?\)")


def name_pattern(key: str) -> str:
    """A regular expression for a name key as a text may write it (spaces, hyphens, underscores between any
    characters): "gpt4" matches "GPT-4" and "GPT 4"."""
    return r"[\s_|-]*".join(re.escape(ch) for ch in key)  # "|": a table row may split "OPT | 175 B"


def surface(text: str, key: str) -> str:
    """How ``text`` writes the name whose key is ``key`` ("gpt4" -> "GPT-4"); the key when it is not there."""
    found = re.search(name_pattern(key), text, flags=re.IGNORECASE)
    return found.group() if found else key


def holds_kind(kind: str, text: str, query: Query) -> bool:
    """Whether ``text`` holds an answer of ``kind``, not counting what only repeats the question (its names and
    numbers: "Qwen-14B" is no number of parameters). A number is a quantity: a digit that is not part of a
    name (Qwen-7B), a version (Gemini 1.0) or a date; Chinese numerals count when the question asks 几.

    >>> q = analyze("Qwen-14B 的上下文窗口有多长？")
    >>> holds_kind("number", "Qwen-7B 和 Qwen-14B 于 2023 年开源。", q), holds_kind("number", "Qwen-7B 支持 8k 上下文。", q)
    (False, True)
    """
    pattern = KINDS[kind][1]
    if pattern is None:
        return True
    rest = _MAN_PAGE.sub(" ", text) if kind in ("number", "path") else text  # "dpkg(1)": a manual page
    rest = _NAME_VERSION.sub(" ", _DATE_EXPRESSION.sub(" ", rest)) if kind == "number" else rest
    if kind not in ("path", "command"):  # what the question names is no answer, but a path or command may hold it
        names = [*query.entities, *query.names, *map(entity_key, re.findall(r"[A-Za-z0-9][\w.+-]*\d[\w.+-]*", query.text))]
        for name in names:
            rest = re.sub(name_pattern(name), " ", rest, flags=re.I)
    if kind == "number":
        if _QUANTITY.search(rest):
            return True
        return "几" in query.text and bool(re.search(r"[一二三四五六七八九十两]+\s*(?:个|种|项|位|层|倍|款|类)", rest))
    return bool(pattern.search(rest))


ShapeCheck = Callable[[str, str, Query], bool]

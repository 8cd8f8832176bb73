"""Pure functions of the GB/T 9704-2012 layout: numbers, paragraphs, lines of the head, the
signature and the end notes. Plain values in, plain values out; no ORM, no I/O."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass

# --- the grid of a page (GB/T 9704-2012, 5.2.1 and 7.1) -------------------------------------

TEXT_WIDTH_MM = 156.0  # 版心 width
TEXT_HEIGHT_MM = 225.0  # 版心 height
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
LINE_PITCH_MM = TEXT_HEIGHT_MM / LINES_PER_PAGE  # 10.227 mm
CHAR_PITCH_MM = TEXT_WIDTH_MM / CHARS_PER_LINE  # 5.571 mm: 3号 (16 pt) set 0.073 mm tighter
BODY_PT = 16.0  # 3号
TITLE_PT = 22.0  # 2号
END_NOTES_PT = 14.0  # 4号, also the page numbers
PT_MM = 25.4 / 72


def document_number(prefix: str, year: int, serial: int) -> str:
    """发文字号: authority code, the year in hexagonal brackets, the serial without leading
    zeros and without 第, then 号 — ``深编办发〔2026〕12号``."""
    if serial < 1:
        raise ValueError("a serial number starts at 1")
    return f"{prefix}〔{year}〕{serial}号"


def cn_date(day: dt.date) -> str:
    """A date in Arabic numerals without leading zeros: ``2026年1月5日``."""
    return f"{day.year}年{day.month}月{day.day}日"


# --- the body -------------------------------------------------------------------------------

_NUMERALS = "一二三四五六七八九十百零〇"
LEVEL_PATTERNS = (
    (1, re.compile(rf"^[{_NUMERALS}]+、")),  # 一、 黑体
    (2, re.compile(rf"^[（(][{_NUMERALS}]+[）)]")),  # （一） 楷体
    (3, re.compile(r"^[0-9０-９]+[.．](?![0-9])")),  # 1. 仿宋
    (4, re.compile(r"^[（(][0-9０-９]+[）)]")),  # （1） 仿宋
)
_SENTENCE_END = re.compile(r"[。！？]")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the body. ``level`` is 0 for text, 1–4 for a numbered heading; for
    levels 1 and 2 ``lead`` is the heading (set in 黑体 / 楷体) and ``rest`` the text that runs
    on after its first full stop (in 仿宋)."""

    level: int
    lead: str
    rest: str

    @property
    def text(self) -> str:
        return self.lead + self.rest

    def as_dict(self) -> dict[str, object]:
        return {"level": self.level, "lead": self.lead, "rest": self.rest, "text": self.text}


def heading_level(line: str) -> int:
    for level, pattern in LEVEL_PATTERNS:
        if pattern.match(line):
            return level
    return 0


def paragraphs(body: str) -> list[Paragraph]:
    """The paragraphs of a body text: one a line, blank lines ignored, white space at either end
    of a line dropped (the layout indents every paragraph by two characters itself)."""
    out: list[Paragraph] = []
    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip().strip("\u3000")
        if not line:
            continue
        level = heading_level(line)
        if level in (1, 2):
            end = _SENTENCE_END.search(line)
            cut = end.end() if end is not None else len(line)
            out.append(Paragraph(level, line[:cut], line[cut:]))
        else:
            out.append(Paragraph(level, "", line))
    return out


def _joined(text: str) -> str:
    """Lines of a list of authorities joined with full-width commas."""
    parts = [p.strip().strip("\u3000") for p in text.replace("\r", "\n").split("\n")]
    return "，".join(p.rstrip("，,、；;") for p in parts if p)


def addressees_line(addressees: str) -> str:
    """主送机关: the names, ending with one full-width colon; "" when there is none."""
    text = _joined(addressees).rstrip("：:")
    return f"{text}：" if text else ""


def cc_line(cc: str) -> str:
    """The authorities of 抄送 (without the word), ending with a full stop; "" when none."""
    text = _joined(cc).rstrip("。.")
    return f"{text}。" if text else ""


def attachment_lines(note: str) -> list[str]:
    """The attachments, one a line; numbered ``1．`` … when there are several and the lines
    do not carry numbers of their own."""
    lines = [line.strip() for line in note.replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) > 1 and not all(re.match(r"^[0-9０-９]+[.．、]", line) for line in lines):
        lines = [f"{i}．{line}" for i, line in enumerate(lines, 1)]
    return lines


# --- the title ------------------------------------------------------------------------------

TITLE_CHARS_PER_LINE = int(TEXT_WIDTH_MM / (TITLE_PT * PT_MM))  # 20 characters of 2号

# Words of document titles that a line break should not cut (a small dictionary: the
# standard asks that a wrapped title keep words whole). Longer words first.
TITLE_WORDS = tuple(sorted({
    "机构编制委员会办公室", "机构编制委员会", "议事协调机构", "领导小组", "委员会", "办公室", "指挥部", "联席会议",
    "进一步", "规范化", "事业单位", "行政机构", "工作人员", "编外人员", "成员单位", "牵头单位", "主要职责",
    "机构", "编制", "设置", "设立", "管理", "工作", "通知", "意见", "规定", "办法", "批复", "决定", "通报",
    "议事", "协调", "成员", "单位", "调整", "撤销", "更名", "合并", "领导", "小组", "职责", "规范", "加强",
    "关于", "有关", "事项", "人员", "编外", "经费", "实施", "方案", "印发", "转发", "部门", "事业", "行政",
    "改革", "优化", "清理", "名称", "主要", "任务", "机制", "建立", "健全", "推进", "政府", "市委", "区委",
    "省委", "中共", "深化", "控制", "核定", "审批", "备案", "监督", "检查", "评估", "统筹", "安全", "生产",
    "发展", "建设", "服务", "保障", "体制", "职能", "运行", "全市", "全省", "全区", "全县", "专项", "试点",
}, key=len, reverse=True))
_OPENING = "（(《“‘〔［【"
_CLOSING = "）)》”’〕］】，,。、；;：:！？"


def _segments(text: str) -> list[str]:
    """Forward maximum matching against TITLE_WORDS; other characters stand alone."""
    out: list[str] = []
    i = 0
    while i < len(text):
        word = next((w for w in TITLE_WORDS if text.startswith(w, i)), text[i])
        out.append(word)
        i += len(word)
    return out


def _break_cost(text: str, i: int, cuts: set[int], depth: list[int]) -> float | None:
    """The cost of a line break before ``text[i]``; None where a break is not allowed."""
    if text[i] in _CLOSING or text[i - 1] in _OPENING:
        return None
    cost = 0.0 if i in cuts else 6.0  # inside a word
    if depth[i]:
        cost += 4.0  # inside brackets or a book title
    if text[i] == "的":
        cost -= 2.0
    if text[i - 1] in "和与及、》":
        cost -= 1.5
    return cost


def title_lines(title: str, per_line: int = TITLE_CHARS_PER_LINE) -> list[str]:
    """A title in lines of at most ``per_line`` characters, as GB/T 9704-2012 (7.3.1) asks:
    words kept whole, lines of about equal length, the upper ones a little longer (an
    inverted trapezoid). A title that fits stays on one line."""
    title = " ".join(title.split())
    if width_in_chars(title) <= per_line:
        return [title] if title else []
    n = len(title)
    cuts, at = set(), 0
    for word in _segments(title):
        at += len(word)
        cuts.add(at)
    depth, level = [], 0
    for ch in title:
        depth.append(level)
        level = max(0, level + (ch in "（(《“〔") - (ch in "）)》”〕"))
    costs = {i: _break_cost(title, i, cuts, depth) for i in range(1, n)}
    count = math.ceil(width_in_chars(title) / per_line)
    best: tuple[float, list[int]] | None = None
    for lines in (count, count + 1):
        ideal = width_in_chars(title) / lines
        # dynamic programme over break positions: (cost, breaks) of the first k lines ending at i
        table: dict[tuple[int, int], tuple[float, list[int]]] = {(0, 0): (0.0, [])}
        for k in range(1, lines + 1):
            for (kk, start), (cost, breaks) in list(table.items()):
                if kk != k - 1:
                    continue
                ends = [n] if k == lines else [i for i in range(start + 1, n) if costs[i] is not None]
                for end in ends:
                    width = width_in_chars(title[start:end])
                    if width > per_line:
                        continue
                    # upper lines a little longer: the target narrows by one character a line
                    target = ideal + (lines - 1) / 2 - (k - 1)
                    break_cost = costs.get(end) or 0.0
                    step = cost + abs(width - target) + break_cost
                    key = (k, end)
                    if key not in table or step < table[key][0]:
                        table[key] = (step, [*breaks, end])
        found = table.get((lines, n))
        if found is not None and (best is None or found[0] + 3.0 * (lines - count) < best[0]):
            best = (found[0] + 3.0 * (lines - count), found[1])
    if best is None:
        return [title[i:i + per_line] for i in range(0, n, per_line)]
    starts = [0, *best[1][:-1]]
    return [title[a:b] for a, b in zip(starts, best[1], strict=True)]


# --- widths ---------------------------------------------------------------------------------


def width_in_chars(text: str) -> float:
    """The width of a text in body characters: CJK and other wide forms 1, the rest ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.5 for ch in text)


def mark_size_pt(mark: str, *, width_mm: float = TEXT_WIDTH_MM - 4, largest: float = 42.0,
                 smallest: float = 22.0) -> float:
    """The size of the issuing-authority mark: as large as fits on one line of the text
    block (at most ``largest``), never below ``smallest`` (a longer mark wraps)."""
    chars = max(width_in_chars(mark), 1.0)
    fit = width_mm / chars / PT_MM
    return round(max(smallest, min(largest, fit)), 1)


@dataclass(frozen=True)
class Signature:
    """Where the issuing authority and the date of writing start, in characters from the left
    edge of the text block (GB/T 9704-2012, 7.3.5.2, a document without a seal): the authority
    ends two characters from the right edge, the date starts two characters right of the
    authority; a date longer than that moves the authority left instead, so that the date
    ends two characters from the right edge."""

    issuer_start: int
    date_start: int


def signature(issuer: str, date_text: str, *, chars_per_line: int = CHARS_PER_LINE) -> Signature:
    right = chars_per_line - 2
    issuer_width = math.ceil(width_in_chars(issuer))
    date_width = math.ceil(width_in_chars(date_text))
    issuer_start = right - issuer_width
    date_start = issuer_start + 2
    if date_start + date_width > right:
        date_start = right - date_width
        issuer_start = date_start - 2
    return Signature(max(issuer_start, 0), max(date_start, 0))

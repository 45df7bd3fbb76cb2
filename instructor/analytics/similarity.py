"""Similar answers: pairs of students whose code for one task shares long stretches.

Winnowing (Schleimer, Wilkerson and Aiken, SIGMOD 2003), as in MOSS, on a normalized
token stream (docs/instructors.md, "After grading"). A pair's score is the share of the
smaller answer's fingerprints found in the other, so dead code does not hide a copy. A
prompt for the instructor's judgement; it never changes a grade.
"""

from __future__ import annotations

import ast
import hashlib
import io
import keyword
import re
import tokenize
from collections import Counter, defaultdict, namedtuple
from dataclasses import dataclass, field
from itertools import combinations

#: Tokens per hashed run, and hashes per winnowing window.
K, W = 8, 4
#: A pair is listed at or above this share of the smaller answer's fingerprints.
THRESHOLD = 0.6
#: Fingerprints held by more answers than this are idioms, not evidence (MOSS' ``-m``,
#: whose default is also 10).
COMMON = 10
#: Answers with fewer fingerprints than this (after subtraction) are never paired.
MIN_FINGERPRINTS = 6
#: An answer is a near-copy of the answer key at or above this share of the smaller
#: side's fingerprints found in the other (measured: docs/instructors.md, "The public
#: answer key"; kept true by tests/test_similarity.py).
KEY_THRESHOLD = 0.5
#: The placeholder for every name an answer binds.
NAME = "V"

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENCODING, tokenize.ENDMARKER}
_FALLBACK = re.compile(r"""(?P<str>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|(?P<com>\#[^\n]*)
                           |(?P<name>[A-Za-z_]\w*)|(?P<num>\d[\w.]*)|(?P<nl>\n)
                           |(?P<op>\*\*|//|==|!=|<=|>=|->|[^\s\w])""", re.X)
_MAGIC = re.compile(r"^[ \t]*[%!].*$", re.M)
#: One normalized token, and the (1-based) line of the cell it comes from.
Token = namedtuple("Token", "text line")


def bound_names(source: str) -> set[str]:
    """The names ``source`` binds (SyntaxError or ValueError if it does not parse)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _string(text: str) -> str:
    try:
        return repr(ast.literal_eval(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _python_tokens(source: str, bound: set[str]) -> list[Token]:
    out: list[Token] = []
    edge = tokenize.TokenInfo(tokenize.NEWLINE, "", (0, 0), (0, 0), "")
    toks = [edge, *(t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                    if t.type not in _SKIP), edge]
    for before, tok, after in zip(toks, toks[1:], toks[2:]):
        if tok.type == tokenize.STRING:
            if before.type == after.type == tokenize.NEWLINE:
                continue  # a docstring or a bare string: a comment
            out.append(Token(_string(tok.string), tok.start[0]))
        elif tok.type == tokenize.NEWLINE or (tok.type == tokenize.OP and tok.string == ";"):
            if out and out[-1].text != ";":
                out.append(Token(";", tok.start[0]))
        elif tok.type == tokenize.NAME:
            keep = (tok.string not in bound or before.string == "."
                    or (after.string == "=" and before.string in ("(", ",")))  # attribute, kwarg
            out.append(Token(tok.string if keep else NAME, tok.start[0]))
        elif tok.string in (")", "]", "}") and out and out[-1].text == ",":
            out[-1] = Token(tok.string, tok.start[0])  # a trailing comma is formatting
        else:
            out.append(Token(tok.string, tok.start[0]))
    return out


def _fallback_tokens(source: str, keep: frozenset[str] = frozenset()) -> list[Token]:
    """Tokens of code that does not parse: names it seems to bind become ``V``."""
    bound = set(re.findall(r"^\s*(?:def|class)\s+(\w+)", source, re.M))
    bound |= set(re.findall(r"^\s*(\w+)\s*(?:,\s*\w+\s*)*=(?!=)", source, re.M))
    bound |= set(re.findall(r"\bfor\s+(\w+)\s+in\b", source))
    bound -= keep
    out, line = [], 1
    for m in _FALLBACK.finditer(source):
        kind, text = m.lastgroup, m.group()
        if kind == "nl":
            line += 1
            if out and out[-1].text != ";":
                out.append(Token(";", line - 1))
        elif kind == "name":
            keep = text not in bound or keyword.iskeyword(text) or (out and out[-1].text == ".")
            out.append(Token(text if keep else NAME, line))
        elif kind != "com":  # a comment is left out
            out.append(Token(_string(text) if kind == "str" else text, line))
    return out


def api_names(sources: list[str]) -> frozenset[str]:
    """The top-level functions and classes of ``sources``: the names tests call."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(_MAGIC.sub("", source))
        except (SyntaxError, ValueError):
            continue
        names.update(n.name for n in tree.body
                     if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))
    return frozenset(names)


def normalize(source: str, keep: frozenset[str] = frozenset()) -> list[Token]:
    """One cell's tokens: no comments, docstrings or layout; its bound names (not ``keep``) V."""
    source = _MAGIC.sub("", source)
    try:
        tokens = _python_tokens(source, bound_names(source) - keep)
    except (SyntaxError, ValueError, tokenize.TokenError):  # not Python: a regex reads it
        tokens = _fallback_tokens(source, keep)
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    return tokens


def kgram_hashes(tokens: list[Token], k: int = K) -> list[int]:
    texts = [t.text for t in tokens]
    return [int.from_bytes(hashlib.blake2b("\x1f".join(texts[i:i + k]).encode(),
                                          digest_size=8).digest(), "big")
            for i in range(len(texts) - k + 1)]


def winnow(hashes: list[int], w: int = W) -> dict[int, list[int]]:
    """Fingerprints: each window's smallest hash (rightmost on ties) and its positions."""
    chosen: dict[int, list[int]] = {}
    if not hashes:
        return chosen
    last = -1
    for start in range(max(1, len(hashes) - w + 1)):
        window = hashes[start:start + w]
        low = min(window)
        pos = start + max(i for i, h in enumerate(window) if h == low)
        if pos != last:
            chosen.setdefault(low, []).append(pos)
            last = pos
    return chosen


@dataclass
class Answer:
    """One student's answer to one task, ready for comparison."""

    student: str
    source: str
    tokens: list[Token]
    prints: dict[int, list[int]]  # fingerprint -> k-gram positions

    def lines_of(self, fingerprints) -> set[int]:
        """The source lines the given fingerprints cover."""
        return {t.line for fp in fingerprints for pos in self.prints.get(fp, [])
                for t in self.tokens[pos:pos + K]}


def prepare(student: str, source: str, given: set[int],
            keep: frozenset[str] = frozenset()) -> Answer:
    tokens = normalize(source, keep)
    prints = {h: p for h, p in winnow(kgram_hashes(tokens)).items() if h not in given}
    return Answer(student, source, tokens, prints)


def given_hashes(sources: list[str], keep: frozenset[str] = frozenset()) -> set[int]:
    """Every k-gram hash of the code students were given (stub, setup, helpers, tests)."""
    return {h for source in sources for h in kgram_hashes(normalize(source, keep))}


@dataclass
class Pair:
    a: str
    b: str
    score: float          # shared / fingerprints of the smaller answer
    jaccard: float
    shared: int
    lines_a: set[int] = field(default_factory=set)
    lines_b: set[int] = field(default_factory=set)


@dataclass
class KeyMatch:
    """An answer that is a near-copy of the answer key."""

    student: str
    score: float          # shared / fingerprints of the smaller of answer and key
    shared: int
    lines: set[int] = field(default_factory=set)      # the answer's lines found in the key
    key_lines: set[int] = field(default_factory=set)  # the key's lines found in the answer


@dataclass
class TaskSimilarity:
    """The pairs and clusters of one task, and the answers close to the answer key."""

    task: str
    pairs: list[Pair]
    clusters: list[list[str]]
    ignored_common: int   # fingerprints dropped as idioms
    too_short: list[str]  # students whose answers were too short to compare
    key: list[KeyMatch] = field(default_factory=list)


def key_scores(prepared: dict[str, Answer], key: Answer) -> dict[str, KeyMatch]:
    """Every comparable answer's match with the answer key (no idiom dropped)."""
    out = {}
    if len(key.prints) < MIN_FINGERPRINTS:
        return out
    for student, answer in prepared.items():
        if len(answer.prints) >= MIN_FINGERPRINTS:
            both = answer.prints.keys() & key.prints.keys()
            out[student] = KeyMatch(student, len(both) / min(len(answer.prints), len(key.prints)),
                                    len(both), answer.lines_of(both), key.lines_of(both))
    return out


def compare(task: str, answers: dict[str, str], given: list[str],
            threshold: float = THRESHOLD, key: str | None = None) -> TaskSimilarity:
    """Pairs of ``answers`` (student -> code) above ``threshold``, for one task, and the
    near-copies of the answer ``key`` (when given); ``given``, the code students started
    from, is never counted as shared."""
    keep = api_names(given)
    given_set = given_hashes(given, keep)
    prepared = {s: prepare(s, src, given_set, keep) for s, src in answers.items()}
    too_short = sorted(s for s, a in prepared.items() if len(a.prints) < MIN_FINGERPRINTS)
    usable = {s: a for s, a in prepared.items() if len(a.prints) >= MIN_FINGERPRINTS}
    index: dict[int, list[str]] = defaultdict(list)
    for student, answer in usable.items():
        for fp in answer.prints:
            index[fp].append(student)
    common = {fp for fp, who in index.items() if len(who) > COMMON}
    counts: Counter[tuple[str, str]] = Counter()
    for who in index.values():
        if len(who) <= COMMON:  # each fingerprint not an idiom, once per pair
            counts.update(combinations(sorted(who), 2))
    pairs = []
    for (a, b), shared in counts.items():
        na = len(usable[a].prints.keys() - common)
        nb = len(usable[b].prints.keys() - common)
        if min(na, nb) >= MIN_FINGERPRINTS and (score := shared / min(na, nb)) >= threshold:
            both = (usable[a].prints.keys() & usable[b].prints.keys()) - common
            pairs.append(Pair(a, b, score, shared / (na + nb - shared), shared,
                              usable[a].lines_of(both), usable[b].lines_of(both)))
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    near_key = []
    if key is not None:
        scores = key_scores(prepared, prepare("answer key", key, given_set, keep))
        near_key = sorted((m for m in scores.values() if m.score >= KEY_THRESHOLD),
                          key=lambda m: (-m.score, m.student))
    return TaskSimilarity(task, pairs, clusters(pairs), len(common), too_short, near_key)


def clusters(pairs: list[Pair]) -> list[list[str]]:
    """Groups of students linked by listed pairs (connected components), largest first."""
    group: dict[str, set[str]] = {}  # student -> everyone linked to them so far
    for p in pairs:
        joined = group.get(p.a, {p.a}) | group.get(p.b, {p.b})
        group.update(dict.fromkeys(joined, joined))
    found = {id(g): sorted(g) for g in group.values()}.values()
    return sorted(found, key=lambda g: (-len(g), g))

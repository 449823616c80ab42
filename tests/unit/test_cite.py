"""Citations: marker parsing, sentence splitting, key terms, verification, citation mapping, abstention."""

from __future__ import annotations

from functools import lru_cache

import pytest

from rag.cite import (
    Verified,
    citations_for,
    covered,
    is_abstention,
    key_terms,
    names_of,
    parse_markers,
    split_answer,
    strip_markers,
)
from rag.cite import verify as verify_with
from rag.language import Analysis, Language
from rag.types import Citation, Evidence, SourceSpan


def span(doc: str, source: str, start: int, end: int, chunk: str) -> SourceSpan:
    return SourceSpan(doc, f"Title {doc}", source, "2025-02-18", None, chunk, start, end)


LAMMY = "Foreign Secretary David Lammy said Russia must withdraw its troops from Ukraine."
RUBIO = "Marco Rubio met Sergei Lavrov in Riyadh on 18 February."
TALKS = "The talks lasted four and a half hours, officials said."
EVIDENCE = (
    Evidence(1, LAMMY, 0.9, (span("d1", "BBC", 0, 80, "c1"),)),
    Evidence(2, RUBIO, 0.8, (span("d2", "Reuters", 5, 60, "c2"), span("d4", "AP", 7, 62, "c4"))),
    Evidence(3, TALKS, 0.5, (span("d3", "AP", 100, 155, "c3"),)),
)


@lru_cache(maxsize=1)
def _language() -> Language:
    return Language(("sentences", "entities"))


def analyse(text: str) -> Analysis:
    return _language().analyse(text)


def verify(draft: str, evidence: tuple[Evidence, ...], question: str = "") -> Verified:
    """`rag.cite.verify` with names found by the real spaCy pipeline, as the answer chain calls it."""
    return verify_with(draft, evidence, question, analyse)


def verify_result(text: str, cited: tuple[int, ...], unsupported: tuple[str, ...] = ()) -> Verified:
    return Verified(text=text, cited=cited, unsupported=unsupported)


# --- parse_markers / strip_markers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[2] x [1, 2]", [2, 1]),
        ("a [1][2] b", [1, 2]),
        ("a [1, 2] b", [1, 2]),
        ("a [ 3 ;4 ] b", [3, 4]),
        ("no markers here", []),
        ("", []),
        ("[0] and [99]", [0, 99]),  # parsed; verify() drops numbers that name no evidence
        ("[1234] [a] [] [1,]", []),  # not markers
    ],
)
def test_parse_markers(text: str, expected: list[int]) -> None:
    assert parse_markers(text) == expected


def test_strip_markers_removes_every_marker_and_collapses_spaces() -> None:
    assert strip_markers("Lammy spoke [1, 2]  in Kyiv [3][4]") == "Lammy spoke in Kyiv"
    assert strip_markers("[1]") == ""


# --- split_answer -----------------------------------------------------------------------------------------


def test_split_answer_splits_sentences() -> None:
    assert split_answer("Rubio met Lavrov [2]. The talks lasted hours [3]! Why? 5 people came.") == [
        "Rubio met Lavrov [2].",
        "The talks lasted hours [3]!",
        "Why?",
        "5 people came.",
    ]


def test_split_answer_keeps_bullet_items_one_per_sentence() -> None:
    text = "- Rubio met Lavrov. He was in Riyadh\n* Lammy spoke\n\n1. Third item\n2) fourth item"
    assert split_answer(text) == [
        "Rubio met Lavrov.",
        "He was in Riyadh",
        "Lammy spoke",
        "Third item",
        "fourth item",
    ]


def test_split_answer_does_not_split_inside_numbers_or_lowercase_continuations() -> None:
    assert split_answer("It cost 4.5 billion dollars. e.g. this stays") == [
        "It cost 4.5 billion dollars. e.g. this stays"
    ]


def test_split_answer_of_empty_text() -> None:
    assert split_answer("") == []
    assert split_answer("\n  \n- \n") == []


def test_split_answer_keeps_titles_with_their_names() -> None:
    assert split_answer("Mr. Rubio met Lavrov. Dr. Smith agreed.") == [
        "Mr. Rubio met Lavrov.",
        "Dr. Smith agreed.",
    ]


def test_split_answer_keeps_closing_quotes() -> None:
    assert split_answer('Lammy said Russia "must withdraw." Rubio agreed.') == [
        'Lammy said Russia "must withdraw."',
        "Rubio agreed.",
    ]


def test_marker_after_the_final_period_stays_with_its_sentence_at_line_end() -> None:
    assert split_answer("Rubio met Lavrov in Riyadh. [2]") == ["Rubio met Lavrov in Riyadh. [2]"]


def test_marker_after_the_period_stays_with_its_sentence_mid_line() -> None:
    assert split_answer("Rubio met Lavrov in Riyadh. [2] The talks lasted four hours. [3]") == [
        "Rubio met Lavrov in Riyadh. [2]",
        "The talks lasted four hours. [3]",
    ]
    assert split_answer("Rubio met Lavrov. [1][2] The talks ended. [3] [4]") == [
        "Rubio met Lavrov. [1][2]",
        "The talks ended. [3] [4]",
    ]


def test_markers_after_periods_are_verified_and_moved_before_them() -> None:
    draft = "Rubio met Lavrov in Riyadh. [2] The talks lasted four and a half hours. [3]"
    assert verify(draft, EVIDENCE) == verify_result(
        "Rubio met Lavrov in Riyadh [2]. The talks lasted four and a half hours [3].", (2, 3)
    )


# --- key_terms / covered ----------------------------------------------------------------------------------


def test_key_terms_are_names_by_their_last_word_and_numbers() -> None:
    # a name counts by its last word, so "Mr Okafor" in the evidence supports "Chidi Okafor"
    names = ["Chidi Okafor", "Lena Marsh", "Port Talbot"]
    assert key_terms("Chidi Okafor met Lena Marsh in Port Talbot on 18 June [1].", names) == {
        "okafor",
        "marsh",
        "talbot",
        "18",
    }


def test_key_terms_include_number_words_and_strip_possessives() -> None:
    # small number words become digits, so "three" in a claim meets "3" in the evidence and vice versa
    assert key_terms("The hearing lasted four hours, twenty minutes.") == {"4", "20"}
    assert covered({"3"}, ["a storm felled three oaks"]) == {"3"}
    assert key_terms("It was Marsh's plan.", ["Marsh's"]) == {"marsh"}


def test_key_terms_of_empty_text() -> None:
    assert key_terms("") == set()


@pytest.mark.integration
def test_names_come_from_the_language_layer() -> None:
    assert "Lena Marsh" in names_of(analyse, "The council said Lena Marsh will chair the inquiry.")
    assert names_of(None, "Lena Marsh spoke.") == []


def test_covered_matches_whole_words_accent_and_case_insensitively() -> None:
    texts = ["Andrii Sybihá visited Kyiv on 3 March.", "Nothing else."]
    assert covered({"sybiha", "kyiv", "3", "lammy", "kyi", "30"}, texts) == {"sybiha", "kyiv", "3"}
    assert covered(set(), texts) == set()
    assert covered({"kyiv"}, []) == set()


# --- verify -----------------------------------------------------------------------------------------------


def test_supported_sentence_keeps_its_citation() -> None:
    assert verify("Rubio met Lavrov in Riyadh [2].", EVIDENCE) == verify_result(
        "Rubio met Lavrov in Riyadh [2].", (2,)
    )


def test_verified_text_has_single_spaces() -> None:
    assert verify("Rubio met Lavrov in Riyadh [2].", EVIDENCE).text == "Rubio met Lavrov in Riyadh [2]."


def test_unsupported_sentence_is_reported_as_written() -> None:
    v = verify("Keir Starmer said Russia must withdraw its troops [1].", EVIDENCE)
    assert v.unsupported == ("Keir Starmer said Russia must withdraw its troops.",)


def test_invalid_markers_are_dropped_and_the_right_evidence_attached() -> None:
    v = verify("Rubio met Lavrov in Riyadh [0][99].", EVIDENCE)
    assert v.cited == (2,)
    assert "[0]" not in v.text and "[99]" not in v.text
    assert v.text.endswith("[2].")


def test_sentence_without_marker_gets_the_matching_evidence() -> None:
    assert verify("Rubio met Lavrov in Riyadh.", EVIDENCE) == verify_result(
        "Rubio met Lavrov in Riyadh [2].", (2,)
    )


def test_wrong_marker_is_corrected_to_the_supporting_evidence() -> None:
    v = verify("Rubio met Lavrov in Riyadh [1].", EVIDENCE)
    assert v.cited == (2,)
    assert v.text.endswith("[2].")


@pytest.mark.parametrize(
    "draft", ["Rubio met Lavrov in Riyadh [1, 2].", "Rubio met Lavrov in Riyadh [1][2]."]
)
def test_multi_markers_keep_only_the_items_that_contribute(draft: str) -> None:
    # evidence 1 holds none of the names and shares no words with the claim
    assert verify(draft, EVIDENCE).cited == (2,)


def test_both_markers_kept_when_both_contribute() -> None:
    v = verify("Rubio met Lavrov in Riyadh and Lammy said Russia must withdraw its troops [1, 2].", EVIDENCE)
    assert v.cited == (1, 2)
    assert v.text.endswith("[1][2].")


def test_sentence_naming_a_person_absent_from_its_evidence_is_removed() -> None:
    v = verify("Keir Starmer said Russia must withdraw its troops [1].", EVIDENCE)
    assert v.text == ""
    assert v.cited == ()
    assert len(v.unsupported) == 1 and v.unsupported[0].startswith("Keir Starmer said Russia must withdraw")


def test_sentence_with_a_number_absent_from_its_evidence_is_removed() -> None:
    v = verify("Rubio met Lavrov in Riyadh [2]. The talks lasted five hours [3].", EVIDENCE)
    assert v.cited == (2,)
    assert "five" not in v.text
    assert len(v.unsupported) == 1 and v.unsupported[0].startswith("The talks lasted five hours")


def test_question_terms_need_no_support() -> None:
    draft = "Rubio met Lavrov in Riyadh in Saudi Arabia [2]."
    assert verify(draft, EVIDENCE).cited == ()
    assert verify(draft, EVIDENCE, question="Where in Saudi Arabia did Rubio meet Lavrov?").cited == (2,)


def test_unrelated_sentence_is_unsupported() -> None:
    assert verify("Cats are nice.", EVIDENCE) == verify_result("", (), ("Cats are nice.",))


def test_bullet_list_answers_stay_one_item_per_line() -> None:
    draft = "- Rubio met Lavrov in Riyadh [2]\n- The talks lasted four and a half hours [3]"
    assert verify(draft, EVIDENCE) == verify_result(
        "Rubio met Lavrov in Riyadh [2]\nThe talks lasted four and a half hours [3]", (2, 3)
    )


def test_prose_answers_are_joined_with_spaces_and_cited_in_order_of_appearance() -> None:
    v = verify("The talks lasted four and a half hours [3]. Rubio met Lavrov in Riyadh.", EVIDENCE)
    assert v == verify_result(
        "The talks lasted four and a half hours [3]. Rubio met Lavrov in Riyadh [2].", (3, 2)
    )


@pytest.mark.parametrize("draft", ["", "   ", "[1]", "[1] [2]."])
def test_empty_or_marker_only_drafts_verify_to_nothing(draft: str) -> None:
    assert verify(draft, EVIDENCE) == verify_result("", ())


def test_verify_without_evidence_marks_claims_unsupported() -> None:
    assert verify("Rubio met Lavrov.", ()) == verify_result("", (), ("Rubio met Lavrov.",))


def test_exclamation_keeps_its_punctuation_after_the_marker() -> None:
    assert verify("He met Lavrov in Riyadh!", EVIDENCE).text == "He met Lavrov in Riyadh [2]!"


# --- citations_for ----------------------------------------------------------------------------------------


def test_citations_map_to_the_primary_span_sorted_and_unknown_numbers_dropped() -> None:
    assert citations_for([3, 2, 7], EVIDENCE) == (
        Citation(2, "d2", "Title d2", "Reuters", "2025-02-18", "c2", RUBIO, 5, 60),
        Citation(3, "d3", "Title d3", "AP", "2025-02-18", "c3", TALKS, 100, 155),
    )
    assert citations_for([], EVIDENCE) == ()
    assert citations_for([1], ()) == ()


# --- is_abstention ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The articles do not mention Russia.",
        "The article doesn't say who won.",
        "The evidence does not specify the date.",
        "The provided sources don't report a figure.",
        "There is no information about that in the articles.",
        "This was not mentioned.",
        "I cannot answer that from the evidence.",
        "I am unable to determine the answer.",
        "I can't tell from these passages.",
    ],
)
def test_abstention_phrases_are_detected(text: str) -> None:
    assert is_abstention(text)


@pytest.mark.parametrize(
    "text",
    [
        "Lammy said Russia must withdraw its troops [1].",
        "Rubio met Lavrov in Riyadh on 18 February [2].",
        "The talks lasted four and a half hours [3].",
        "Nobody was hurt, officials said.",
        "",
    ],
)
def test_ordinary_answers_are_not_abstentions(text: str) -> None:
    assert not is_abstention(text)


def test_a_claim_naming_an_outlet_needs_a_sentence_from_that_outlet() -> None:
    def item(n: int, text: str, source: str) -> Evidence:
        return Evidence(
            n=n, text=text, score=0.5, spans=(SourceSpan("d", "T", source, None, None, "d:0:x", 0, 9),)
        )

    evidence = [
        item(1, "Police said the death toll rose to 14.", "The Herald"),
        item(2, "At least seven people have died.", "The Northern Courier"),
    ]
    wrong = verify("The Northern Courier reported a toll of 14 [1].", evidence)
    assert wrong.text == "" and wrong.unsupported == ("The Northern Courier reported a toll of 14.",)
    right = verify("The Northern Courier reported seven dead [2].", evidence)
    assert right.cited == (2,)
    # a sentence that names the outlet in its text attributes it too; an opening word is not an outlet name
    named = [
        item(3, "Seven died, The Northern Courier reported.", "Wire"),
        item(4, "Independent experts disagreed.", "X"),
    ]
    assert verify("The Northern Courier reported seven dead [3].", named).cited == (3,)
    assert verify("Independent experts disagreed [4].", [*named, item(5, "x", "The Independent")]).cited == (
        4,
    )

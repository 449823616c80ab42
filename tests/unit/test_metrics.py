"""Every metric of eval.metrics on hand-made cases with known answers, edge cases included."""

from __future__ import annotations

import math

import pytest

from eval import metrics as m


def is_nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


# --- normalisation ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sybíha", "sybiha"),
        ("SYBIHA", "sybiha"),
        ("Sébastien Lecornu", "sebastien lecornu"),
        ("Zelensky’s “peace”", "zelensky s peace"),
        ("Jean-Noël  Barrot.", "jean noel barrot"),
        ("  \t\n ", ""),
        ("Straße", "strasse"),
        ("U.S. envoy", "u s envoy"),
        ("The talks", "the talks"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert m.normalise(text) == expected


def test_normalise_drop_articles() -> None:
    assert (
        m.normalise("The envoy met an aide and a minister", drop_articles=True)
        == "envoy met aide and minister"
    )


def test_strip_citation_markers() -> None:
    assert m.strip_citation_markers("Three people [1][2, 3] died [ 4 ].") == "Three people died ."
    assert m.strip_citation_markers("No markers") == "No markers"


# --- facts ---


def test_fact_present_accents_and_case() -> None:
    assert m.fact_present("Foreign minister Andriy Sybíha attended.", ["Sybiha"])
    assert m.fact_present("foreign minister andriy sybiha attended.", ["SYBÍHA"])
    assert m.fact_present("Andriy Sybiga was there", ["Sybiha", "Sybiga"])
    assert not m.fact_present("Andriy was there", ["Sybiha", "Sybiga"])


def test_fact_present_whole_words_only() -> None:
    assert not m.fact_present("117 were injured", ["17"])
    assert m.fact_present("at least 35 dead", ["35"])
    assert m.fact_present("Rubio’s visit", ["Rubio"])
    assert not m.fact_present("Rubiorama", ["Rubio"])
    assert m.fact_present("a “real and substantial” plan", ["real and substantial"])


def test_fact_present_spelling_without_letters_never_matches() -> None:
    assert not m.fact_present("!! anything", ["!!"])
    assert not m.fact_present("", ["x"])


def test_fact_recall_and_all_facts() -> None:
    facts = [["Rubio", "Marco Rubio"], ["Witkoff"], ["Kellogg"]]
    text = "Marco Rubio and Steve Witkoff."
    assert m.fact_recall(text, facts) == pytest.approx(2 / 3)
    assert m.all_facts_present(text, facts) is False
    assert m.all_facts_present(text + " Keith Kellogg too.", facts) is True
    assert is_nan(m.fact_recall(text, []))
    assert m.all_facts_present(text, []) is True


# --- SQuAD EM / F1 ---


def test_exact_match() -> None:
    assert m.exact_match("The Élysée Palace!", "elysee palace") == 1.0
    assert m.exact_match("Elysee", "Elysee Palace") == 0.0
    assert m.exact_match("", "") == 1.0


def test_token_f1() -> None:
    # pred: {marco, rubio}, ref: {marco, rubio, and, steve, witkoff}: P=1, R=2/5 -> F1 = 4/7
    assert m.token_f1("Marco Rubio", "Marco Rubio and Steve Witkoff") == pytest.approx(4 / 7)
    assert m.token_f1("the Lammy", "Lammy") == 1.0
    assert m.token_f1("Paris", "London") == 0.0
    assert m.token_f1("", "") == 1.0
    assert m.token_f1("", "London") == 0.0
    assert m.token_f1("London", "") == 0.0


def test_token_f1_counts_repeated_tokens_once_each() -> None:
    # pred: three three, ref: three people: common = 1, P = 1/2, R = 1/2
    assert m.token_f1("three three", "three people") == pytest.approx(0.5)


# --- abstention ---


def test_abstention_scores() -> None:
    abstained = [True, True, False, False, True]
    answerable = [False, True, True, False, False]
    s = m.abstention_scores(abstained, answerable)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.false_abstention_rate == pytest.approx(1 / 2)


def test_abstention_scores_undefined_cases() -> None:
    never = m.abstention_scores([False, False], [True, True])
    assert is_nan(never.precision)
    assert is_nan(never.recall)
    assert never.false_abstention_rate == 0.0
    only_unanswerable = m.abstention_scores([True], [False])
    assert only_unanswerable.precision == 1.0
    assert only_unanswerable.recall == 1.0
    assert is_nan(only_unanswerable.false_abstention_rate)
    empty = m.abstention_scores([], [])
    assert is_nan(empty.precision) and is_nan(empty.recall) and is_nan(empty.false_abstention_rate)


def test_abstention_scores_length_mismatch() -> None:
    with pytest.raises(ValueError, match="abstained has 1 items but answerable has 2"):
        m.abstention_scores([True], [True, False])


# --- retrieval ---


RANKED = ["d3", "d3", "d1", "d3", "d2", "d5"]  # distinct: d3, d1, d2, d5


def test_dedupe_ranked_keeps_first_rank() -> None:
    assert m.dedupe_ranked(RANKED) == ["d3", "d1", "d2", "d5"]
    assert m.dedupe_ranked([]) == []


def test_hit_at_k_counts_distinct_docs() -> None:
    assert m.hit_at_k(RANKED, ["d1"], 2) == 1.0  # d1 is the 2nd distinct doc though the 3rd passage
    assert m.hit_at_k(RANKED, ["d2"], 2) == 0.0
    assert m.hit_at_k(RANKED, ["d9"], 10) == 0.0
    assert m.hit_at_k([], ["d1"], 5) == 0.0
    assert is_nan(m.hit_at_k(RANKED, [], 5))


def test_recall_at_k() -> None:
    assert m.recall_at_k(RANKED, ["d1", "d2", "d9"], 2) == pytest.approx(1 / 3)
    assert m.recall_at_k(RANKED, ["d1", "d2", "d9"], 3) == pytest.approx(2 / 3)
    assert m.recall_at_k(RANKED, ["d1", "d1"], 3) == 1.0
    assert is_nan(m.recall_at_k(RANKED, [], 3))


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        m.hit_at_k(RANKED, ["d1"], 0)
    with pytest.raises(ValueError):
        m.recall_at_k(RANKED, ["d1"], -1)


def test_reciprocal_rank() -> None:
    assert m.reciprocal_rank(RANKED, ["d2"]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(RANKED, ["d5", "d3"]) == 1.0
    assert m.reciprocal_rank(RANKED, ["d9"]) == 0.0
    assert m.reciprocal_rank([], ["d9"]) == 0.0
    assert is_nan(m.reciprocal_rank(RANKED, []))


# --- sentences and citations ---


def test_split_sentences_keeps_markers_and_abbreviations() -> None:
    text = "Mr. Lammy went to Paris [1]. U.S. envoy Witkoff came. [2][3] He said “peace.” [4] Done!"
    assert m.split_sentences(text) == [
        "Mr. Lammy went to Paris [1].",
        "U.S. envoy Witkoff came. [2][3]",
        "He said “peace.” [4]",
        "Done!",
    ]
    assert m.split_sentences("") == []
    assert m.split_sentences("3.5 million people [1]") == ["3.5 million people [1]"]


def test_cited_numbers() -> None:
    assert m.cited_numbers("A [2] b [1, 2][3].") == (2, 1, 3)
    assert m.cited_numbers("none") == ()


def test_content_words_and_overlap() -> None:
    assert m.content_words("The envoy met Putin [1].") == frozenset({"envoy", "met", "putin"})
    assert m.word_overlap("The envoy met Putin.", "Witkoff met Putin in April") == pytest.approx(2 / 3)
    assert is_nan(m.word_overlap("It was the [1].", "anything"))


def test_quote_supports() -> None:
    quote = "Three people were killed and 28 injured by a strike, including four children."
    assert m.quote_supports(quote, "Three people were killed in Dnipro [1].")  # overlap 3/4
    assert not m.quote_supports(quote, "Rubio met Macron at the Elysee [1].")
    # a gold fact in both the quote and the claim is enough, whatever the overlap
    assert m.quote_supports(quote, "The toll: 28 [1].", facts=[["28"]])
    assert not m.quote_supports(quote, "Rubio met Macron [1].", facts=[["28"]])


def test_citation_grounding() -> None:
    retrieved = [("d1", "d1:0"), ("d2", "d2:3")]
    assert m.citation_grounding([("d1", "d1:0"), ("d2", "d2:9")], retrieved) == 0.5
    assert m.citation_grounding([("d2", "d2:3")], retrieved) == 1.0
    assert is_nan(m.citation_grounding([], retrieved))


ANSWER = "Rubio and Witkoff led the US delegation [1]. Kellogg also came [2]. It was a long day."
QUOTES = {
    1: "The U.S. delegation was led by Secretary of State Marco Rubio and presidential envoy Steve Witkoff.",
    2: "Moscow insists Ukraine must recognize the annexation.",
}


def test_citation_precision() -> None:
    # [1] supports its sentence; [2] neither holds a gold fact nor matches "Kellogg also came"
    assert m.citation_precision(ANSWER, QUOTES) == 0.5
    # with gold facts: [2] still holds none of them
    assert m.citation_precision(ANSWER, QUOTES, facts=[["Kellogg"], ["Rubio"]]) == 0.5
    assert m.citation_precision(ANSWER, {2: "Keith Kellogg arrived"}, facts=[["Kellogg"]]) == 1.0
    assert is_nan(m.citation_precision(ANSWER, {}))


def test_citation_precision_uncited_quote_counts_only_through_facts() -> None:
    # citation 7 is in the list but no sentence carries [7]
    assert m.citation_precision("Rubio came.", {7: "Rubio came to Paris."}) == 0.0
    assert m.citation_precision("Rubio came.", {7: "Rubio came to Paris."}, facts=[["Rubio"]]) == 1.0


def test_citation_recall() -> None:
    # three claims: backed, unbacked (quote unrelated), uncited
    assert m.citation_recall(ANSWER, QUOTES) == pytest.approx(1 / 3)
    # a marker whose number has no quote does not back anything
    assert m.citation_recall("Rubio led it [9].", QUOTES) == 0.0
    assert is_nan(m.citation_recall("", QUOTES))
    assert is_nan(m.citation_recall("[1]", QUOTES))


def test_citation_recall_with_unicode_quotes() -> None:
    answer = "Healey said the planning is “real and substantial” [1]."
    quotes = {1: "“While today’s discussions will be private, our planning is real and substantial.”"}
    assert m.citation_recall(answer, quotes) == 1.0


# --- aggregation and latency ---


def test_mean_skips_nan_and_none() -> None:
    assert m.mean([1.0, math.nan, None, 0.0, True]) == pytest.approx(2 / 3)
    assert is_nan(m.mean([]))
    assert is_nan(m.mean([math.nan, None]))


def test_percentile() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert m.percentile(values, 50) == 30.0
    assert m.percentile(values, 95) == pytest.approx(48.0)
    assert m.percentile(values, 0) == 10.0
    assert m.percentile(values, 100) == 50.0
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([40.0, 10.0], 50) == 25.0
    assert is_nan(m.percentile([], 50))
    with pytest.raises(ValueError):
        m.percentile(values, 101)


def test_latency_summary() -> None:
    timings = [
        {"retrieve": 10.0, "total": 100.0},
        {"retrieve": 30.0, "generate": 50.0, "total": 200.0},
    ]
    s = m.latency_summary(timings)
    assert list(s) == ["generate", "retrieve", "total"]
    assert s["retrieve"] == {"p50": 20.0, "p95": pytest.approx(29.0), "mean": 20.0, "n": 2.0}
    assert s["generate"] == {"p50": 50.0, "p95": 50.0, "mean": 50.0, "n": 1.0}
    assert m.latency_summary([]) == {}


# --- strict correctness and answer length ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("One two three.", 3),
        ("Ada Lovelace [1] wrote it [2, 3].", 4),
        ("A - B", 2),
        ("It cost $5 , then 7%.", 5),
        ("[1]", 0),
    ],
)
def test_word_count_ignores_citation_markers_and_bare_punctuation(text: str, expected: int) -> None:
    assert m.word_count(text) == expected


def test_strict_correct_needs_every_fact_and_a_short_answer() -> None:
    facts = [["Lovelace"], ["1843"]]
    assert m.strict_correct("Lovelace, in 1843 [1].", facts, max_words=3) is True
    assert m.strict_correct("Lovelace, in 1843 [1].", facts, max_words=2) is False
    assert m.strict_correct("Lovelace [1].", facts, max_words=60) is False
    long = "Lovelace published it in 1843. " + "filler " * 60
    assert m.all_facts_present(long, facts) is True and m.strict_correct(long, facts, 60) is False
    with pytest.raises(ValueError, match="max_words must be at least 1, got 0"):
        m.strict_correct("x", facts, 0)


def test_length_summary() -> None:
    summary = m.length_summary([10, 2, 4, 8, 6])
    assert (summary.median, summary.p90, summary.max) == (6.0, pytest.approx(9.2), 10.0)
    empty = m.length_summary([])
    assert is_nan(empty.median) and is_nan(empty.p90) and is_nan(empty.max)

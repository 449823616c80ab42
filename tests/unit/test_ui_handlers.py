"""The UI handlers and renderers, driven by a deterministic fake pipeline: no Gradio server, no model."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from rag import Filters, Turn
from rag.errors import InputError, ModelError, StoreError
from rag.types import NEWEST_ARTICLE, DateContext, DatePhrase
from ui import handlers, render

try:  # `python -m pytest` puts the repo root on sys.path; bare `pytest` puts this folder there instead
    from tests.unit.fake_pipeline import HOSTILE, FakePipeline, make_evidence
except ImportError:  # pragma: no cover
    from fake_pipeline import HOSTILE, FakePipeline, make_evidence  # type: ignore[no-redef]

QUESTION = "Who attended the Paris talks?"


def run(pipeline: FakePipeline, question: str = QUESTION, **kwargs: object) -> list[handlers.ChatUpdate]:
    return list(handlers.respond(pipeline, question, [], handlers.Conversation(), **kwargs))  # type: ignore[arg-type]


def test_stream_shows_cards_before_any_answer_text() -> None:
    updates = run(FakePipeline())
    first_cards = next(i for i, u in enumerate(updates) if "id='cite-1'" in u[2])
    first_draft = next(i for i, u in enumerate(updates) if "Rubio and Witkoff" in u[1][-1]["content"])
    assert first_cards < first_draft
    # the question box is cleared from the first update on
    assert all(u[0] == "" for u in updates)
    assert updates[0][1] == [
        {"role": "user", "content": "Who attended the Paris talks?"},
        {"role": "assistant", "content": "*Searching the articles…*"},
    ]


def test_tokens_stream_as_a_growing_draft_then_the_final_answer_replaces_it() -> None:
    updates = run(FakePipeline(tokens=("Rubio ", "and Witkoff")))
    contents = [u[1][-1]["content"] for u in updates]
    assert "Rubio ▍" in contents
    assert "Rubio and Witkoff ▍" in contents
    final = contents[-1]
    assert final.startswith("Rubio and Witkoff attended [\\[1\\]](#cite-1)\\.")
    assert "~~The pope was there too\\.~~ *(unsupported)*" in final
    assert "⚠ *1 sentence not supported by the cited articles.*" in final
    assert final.endswith("<sub>Timing: retrieve 120 ms · generate 3.4 s</sub>")


def test_final_panel_marks_cited_cards_and_corroboration() -> None:
    panel = run(FakePipeline())[-1][2]
    assert "<div class='nr-card nr-card-cited' id='cite-1' data-n='1'>" in panel
    assert "<div class='nr-card' id='cite-2' data-n='2'>" in panel
    assert "reported by 2 sources" in panel
    assert panel.count("reported by") == 1
    assert "<span class='nr-outlet'>Daily Planet</span>" in panel
    assert "<span class='nr-date'>2025-04-17</span>" in panel
    assert "relevance 0.91" in panel


def test_hostile_article_text_is_escaped_everywhere() -> None:
    pipeline = FakePipeline()
    panel = run(pipeline)[-1][2]
    table = handlers.articles_html(pipeline)
    for html_out in (panel, table):
        assert "<img" not in html_out
        assert "<script" not in html_out
        assert "<b>" not in html_out
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in panel
    assert "Bad &lt;b&gt;Outlet&lt;/b&gt;" in table
    # the highlighted span is the escaped sentence, inside the excerpt and inside the full article
    escaped_sentence = render.esc(f"Rubio was in Paris {HOSTILE} for talks.")
    assert panel.count(f"<mark class='nr-span'>{escaped_sentence}</mark>") == 2


def test_untrusted_text_cannot_inject_markdown_or_html_into_the_chat() -> None:
    out = render.md_escape("![x](http://evil/x.png) <b>hi</b> $x$ [3]")
    assert out == "\\!\\[x\\]\\(http://evil/x\\.png\\) &lt;b&gt;hi&lt;/b&gt; \\$x\\$ \\[3\\]"
    assert render.link_markers(out, [3]) == (
        "\\!\\[x\\]\\(http://evil/x\\.png\\) &lt;b&gt;hi&lt;/b&gt; \\$x\\$ [\\[3\\]](#cite-3)"
    )
    # a marker that refers to no evidence item stays plain text
    assert render.link_markers("\\[9\\]", [1, 2]) == "\\[9\\]"


def test_excerpt_highlights_the_exact_span_inside_its_chunk() -> None:
    evidence, passages = make_evidence()
    out = render.excerpt(evidence[0], passages)
    assert out == (
        "Officials met on Thursday. <mark class='nr-span'>Marco Rubio and Steve Witkoff attended the "
        "talks in Paris.</mark> Nothing was signed."
    )


def test_excerpt_trims_long_context_at_word_boundaries() -> None:
    evidence, _ = make_evidence()
    long_before = "word " * 100
    context = long_before + evidence[0].text + " tail"
    e = dataclasses.replace(evidence[0], context=context)
    out = render.excerpt(e, [])
    assert out.startswith("… word word")
    assert out.endswith("</mark> tail")
    assert len(out) < 300


def test_highlight_ignores_spans_outside_the_text() -> None:
    assert render.highlight("a<b", 0, 10) == "a&lt;b"
    assert render.highlight("a<b", 1, 2) == "a<mark class='nr-span'>&lt;</mark>b"


def test_history_is_passed_as_turns_for_follow_ups() -> None:
    pipeline = FakePipeline()
    conversation = handlers.Conversation()
    chat: list[handlers.Message] = []
    for q in (QUESTION, "What did they agree?"):
        *_, last = handlers.respond(pipeline, q, chat, conversation)
        _, chat, _, conversation = last
    assert [c[1] for c in pipeline.calls] == [
        (),
        (Turn(QUESTION, "Rubio and Witkoff attended [1]. The pope was there too."),),
    ]
    assert [r.message_index for r in conversation.answers] == [1, 3]
    assert len(chat) == 4


def test_settings_panel_values_reach_the_pipeline() -> None:
    pipeline = FakePipeline()
    run(pipeline, backend="local", top_k=3.0, outlets=["Daily Planet"], since="2025-04-01", until="")
    assert pipeline.options == [{"llm": "local", "top_k": 3}]
    assert pipeline.calls[0][2] == Filters(sources=("Daily Planet",), since="2025-04-01", until=None)


def test_unchanged_settings_use_the_pipeline_as_is() -> None:
    pipeline = FakePipeline()
    run(pipeline, backend="none", top_k=6)
    assert pipeline.options == []


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("17/04/2025", None, "⚠ The 'since' date must look like 2025\\-04\\-17; got '17/04/2025'\\."),
        ("2025-05-01", "2025-04-01", "⚠ The 'since' date (2025\\-05\\-01) is after the 'until' date"),
    ],
)
def test_bad_dates_become_a_chat_message(since: str, until: str | None, message: str) -> None:
    pipeline = FakePipeline()
    final = run(pipeline, since=since, until=until)[-1][1][-1]["content"]
    assert final.startswith(message.replace("(", "\\(").replace(")", "\\)"))
    assert pipeline.calls == []


def test_pipeline_errors_become_readable_messages_not_tracebacks() -> None:
    pipeline = FakePipeline()
    pipeline.fail_with = ModelError("The local model failed to load: file missing. Run `rag doctor`.")
    updates = run(pipeline)
    assert updates[-1][1][-1]["content"] == (
        "⚠ The local model failed to load: file missing\\. Run \\`rag doctor\\`\\."
    )
    # the evidence that was found stays on screen
    assert "id='cite-1'" in updates[-1][2]


def test_unexpected_errors_are_logged_and_summarised(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = FakePipeline()
    pipeline.fail_with = ZeroDivisionError("boom")
    final = run(pipeline)[-1][1][-1]["content"]
    assert (
        final
        == "⚠ Something went wrong while answering (ZeroDivisionError). The details are in the server log."
    )
    assert "Traceback" not in final
    assert "answering 'Who attended the Paris talks?' failed" in caplog.text


def test_blank_question_does_nothing() -> None:
    pipeline = FakePipeline()
    assert run(pipeline, question="   ") == [("", [], render.placeholder_panel(), handlers.Conversation())]
    assert pipeline.calls == []


def test_abstention_is_shown_plainly_with_the_closest_passages() -> None:
    pipeline = FakePipeline()
    pipeline.abstain = True
    last = run(pipeline)[-1]
    assert last[1][-1]["content"].startswith("The articles do not say who won\\.")
    assert "*The closest passages are shown under Sources.*" in last[1][-1]["content"]
    assert "Closest passages — the articles do not answer this" in last[2]
    assert "id='cite-2'" in last[2]


def test_feedback_appends_one_json_line_per_vote(tmp_path: Path) -> None:
    *_, (_, _, _, conversation) = run(FakePipeline())
    path = tmp_path / "sub" / "feedback.jsonl"
    fixed = lambda: datetime(2025, 4, 17, 12, 0, tzinfo=UTC)  # noqa: E731
    assert handlers.record_vote(path, conversation, 1, True, now=fixed) == "Thanks, feedback saved (up)."
    assert handlers.record_vote(path, conversation, 1, False, now=fixed) == "Thanks, feedback saved (down)."
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["vote"] for line in lines] == ["up", "down"]
    assert lines[0]["question"] == QUESTION
    assert lines[0]["answer"] == "Rubio and Witkoff attended [1]. The pope was there too."
    assert lines[0]["timestamp"] == "2025-04-17T12:00:00+00:00"
    assert [c["doc_id"] for c in lines[0]["citations"]] == ["doc-a"]
    assert lines[0]["citations"][0]["quote"] == "Marco Rubio and Steve Witkoff attended the talks in Paris."


def test_votes_on_questions_or_unfinished_answers_are_not_logged(tmp_path: Path) -> None:
    *_, (_, _, _, conversation) = run(FakePipeline())
    path = tmp_path / "feedback.jsonl"
    assert handlers.record_vote(path, conversation, 0, True) == "Only finished answers can be rated."
    assert not path.exists()


def test_stop_labels_only_an_unfinished_answer() -> None:
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Rubio ▍"}]
    stopped = handlers.mark_stopped(chat, handlers.Conversation())
    assert stopped[-1]["content"] == "Rubio\n\n*Stopped: this answer is unfinished and unverified.*"
    *_, (_, done_chat, _, conversation) = run(FakePipeline())
    assert handlers.mark_stopped(done_chat, conversation) == done_chat


def test_stop_reads_messages_in_gradio_content_part_form() -> None:
    chat = [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Rubio ▍"}]},
    ]
    stopped = handlers.mark_stopped(chat, handlers.Conversation())
    assert stopped[-1]["content"] == "Rubio\n\n*Stopped: this answer is unfinished and unverified.*"


def test_new_conversation_clears_everything() -> None:
    chat, panel, conversation, question = handlers.new_conversation()
    assert (chat, conversation, question) == ([], handlers.Conversation(), "")
    assert "Ask a question" in panel


def test_ask_api_validates_its_input() -> None:
    pipeline = FakePipeline()
    with pytest.raises(InputError, match="question must be a string; got int"):
        handlers.ask_api(pipeline, 42)
    with pytest.raises(InputError, match="question is empty"):
        handlers.ask_api(pipeline, "  ")
    out = handlers.ask_api(pipeline, f" {QUESTION} ")
    assert out["question"] == QUESTION
    assert [c["n"] for c in out["citations"]] == [1]


def test_ingest_reports_counts_and_progress(tmp_path: Path) -> None:
    pipeline = FakePipeline()
    seen: list[tuple[int, int, str]] = []
    files = [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    summary = handlers.ingest_files(pipeline, files, lambda d, t, label: seen.append((d, t, label)))
    assert summary == "Added 2, updated 0, unchanged 0 (6 chunks written in 0.2 s)."
    assert seen == [(1, 2, "file 1"), (2, 2, "file 2")]
    assert pipeline.ingested == [[Path(f) for f in files]]
    assert handlers.ingest_files(pipeline, []).startswith("Choose one or more article files")


def test_outlets_and_examples_come_from_the_store() -> None:
    pipeline = FakePipeline()
    assert handlers.outlet_choices(pipeline) == ["Bad <b>Outlet</b>", "Daily Planet"]
    assert handlers.example_questions(pipeline, 1) == ["What did the author of Talks in Paris say?"]
    assert len(handlers.example_questions(pipeline)) == 2


def test_an_unreadable_store_offers_no_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = FakePipeline()

    def broken(count: int = 4) -> list[str]:
        raise StoreError("The store cannot be read.")

    monkeypatch.setattr(pipeline, "example_questions", broken)
    assert handlers.example_questions(pipeline) == []


def test_timing_line_formats_each_step() -> None:
    assert render.timing_line({"retrieve": 95.4, "generate": 12345.0}) == "retrieve 95 ms · generate 12.3 s"
    assert render.timing_line({}) == ""


def test_no_card_markup_leaks_from_titles() -> None:
    pipeline = FakePipeline()
    panel = run(pipeline)[-1][2]
    titles = re.findall(r"<span class='nr-title'>(.*?)</span>", panel)
    assert "Evil &lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in titles[1]


def test_unsupported_sentences_of_a_discarded_draft_are_not_reported() -> None:
    answer = dataclasses.replace(
        FakePipeline().answer(QUESTION),
        text="Marco Rubio and Steve Witkoff attended the talks in Paris. [1]",
        notice="The model's answer could not be verified; showing the evidence instead.",
    )
    out = render.answer_markdown(answer)
    assert out.startswith(
        "**Note:** The model's answer could not be verified; showing the evidence instead\\."
    )
    assert "not supported" not in out
    assert "(unsupported)" not in out


# --- asking as of a date ------------------------------------------------------------------------------------


def test_as_of_box_reaches_the_pipeline_as_a_date() -> None:
    pipeline = FakePipeline()
    run(pipeline, as_of=" 2023-03-10 ")
    run(pipeline, as_of="")
    run(pipeline)
    assert pipeline.as_of == [date(2023, 3, 10), None, None]


def test_bad_as_of_date_becomes_a_chat_message() -> None:
    pipeline = FakePipeline()
    final = run(pipeline, as_of="last friday")[-1][1][-1]["content"]
    assert final.startswith("⚠ The 'as of' date must be a date like 2023\\-03\\-10; got 'last friday'\\.")
    assert pipeline.calls == []


def test_ask_api_takes_an_optional_as_of_date() -> None:
    pipeline = FakePipeline()
    handlers.ask_api(pipeline, QUESTION)
    handlers.ask_api(pipeline, QUESTION, "2023-03-10")
    assert pipeline.as_of == [None, date(2023, 3, 10)]
    with pytest.raises(InputError, match="as_of must be a date like 2023-03-10; got '10/03/2023'"):
        handlers.ask_api(pipeline, QUESTION, "10/03/2023")
    with pytest.raises(InputError, match="as_of must be a YYYY-MM-DD string; got int"):
        handlers.ask_api(pipeline, QUESTION, 20230310)


def test_the_day_dates_were_read_as_of_is_shown_with_the_timings() -> None:
    week = DatePhrase("this week", date(2023, 3, 4), date(2023, 3, 10))
    context = DateContext(date(2023, 3, 10), NEWEST_ARTICLE, (week,))
    answer = dataclasses.replace(FakePipeline().answer(QUESTION), date_context=context)
    last = render.answer_markdown(answer).split("\n\n")[-1]
    assert last == (
        "<sub>Timing: retrieve 120 ms · generate 3.4 s · Dates read as of 2023\\-03\\-10 \\(newest article\\)\\. "
        '"this week" means 2023\\-03\\-04 to 2023\\-03\\-10\\.</sub>'
    )

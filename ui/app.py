"""The Gradio Blocks app: a thin adapter from widgets and events to the plain handlers in `ui.handlers`.

`build_app(pipeline, settings)` returns the app without launching it; `ui.server.launch` serves it.
Styling and the small script that scrolls a card into view live in APP_CSS / APP_HEAD, which Gradio 6
takes at `launch()` time (see `launch_options`). No `from __future__ import annotations` here: Gradio
reads parameter annotations (gr.LikeData, gr.Progress, API types) at run time.
"""

from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from rag import RagError
from rag.settings import LLM_BACKENDS, Settings
from ui import handlers, render
from ui.handlers import ChatPipeline

TITLE = "newsrag"
MAX_PASSAGES = 20

APP_CSS = """
#nr-sources-col { max-height: 82vh; overflow-y: auto; }
.nr-sources h3.nr-heading { margin: 0 0 .5em 0; }
.nr-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
           padding: .6em .8em; margin-bottom: .7em; background: var(--background-fill-secondary);
           transition: box-shadow .3s; scroll-margin-top: 1em; }
.nr-card-cited { border-left: 4px solid var(--color-accent); }
.nr-card.nr-flash { box-shadow: 0 0 0 3px var(--color-accent); }
.nr-card-head { font-weight: 600; }
.nr-num { color: var(--color-accent); margin-right: .25em; }
.nr-meta { font-size: .85em; opacity: .85; margin: .2em 0 .4em 0; }
.nr-corroborated, .nr-cited { font-weight: 600; }
.nr-excerpt { margin: .3em 0; padding-left: .6em; border-left: 2px solid var(--border-color-primary);
              font-size: .92em; }
mark.nr-span { background: #ffe58a; color: #1f1f1f; padding: 0 .1em; }
.nr-also { font-size: .82em; opacity: .85; }
.nr-full { white-space: pre-wrap; max-height: 22em; overflow-y: auto; font-size: .88em; margin-top: .3em; }
.nr-articles { width: 100%; border-collapse: collapse; }
.nr-articles td, .nr-articles th { border-bottom: 1px solid var(--border-color-primary); padding: .3em .5em;
                                   text-align: left; }
.nr-num-cell { text-align: right; }
#nr-chat a[href^="#cite-"] { color: var(--color-accent); font-weight: 600; text-decoration: none; }
"""

APP_HEAD = """
<script>
(() => {
  const cardFor = (el) => {
    const a = el && el.closest ? el.closest('a[href^="#cite-"]') : null;
    return a ? [a, document.getElementById(a.getAttribute('href').slice(1))] : [null, null];
  };
  const show = (card) => {
    card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    card.classList.add('nr-flash');
    setTimeout(() => card.classList.remove('nr-flash'), 1500);
  };
  document.addEventListener('click', (ev) => {
    const [a, card] = cardFor(ev.target);
    if (!a) return;
    ev.preventDefault(); ev.stopPropagation();
    if (card) { show(card); const d = card.querySelector('details'); if (d && ev.detail > 1) d.open = true; }
  }, true);
  document.addEventListener('mouseover', (ev) => {
    const [a, card] = cardFor(ev.target);
    if (a && card) show(card);
  });
})();
</script>
"""


def launch_options() -> dict[str, Any]:
    """The `launch()` arguments that style the app (Gradio 6 takes css/head there, not in Blocks)."""
    return {"css": APP_CSS, "head": APP_HEAD}


def build_app(pipeline: ChatPipeline, settings: Settings, examples: list[str] | None = None) -> gr.Blocks:
    """The chat window over `pipeline`. Building it reads the store's outlets and headlines, nothing more."""
    outlets = handlers.outlet_choices(pipeline)
    example_list = handlers.example_questions(pipeline) if examples is None else examples
    backend_choices = [(handlers.BACKEND_LABELS.get(b, b), b) for b in LLM_BACKENDS]

    with gr.Blocks(title=TITLE, fill_width=True) as app:
        conversation = gr.State(handlers.Conversation())
        gr.Markdown(
            "## newsrag — ask the news articles\nAnswers cite numbered sources; hover or click `[n]`."
        )
        with gr.Tab("Chat"), gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="nr-chat",
                    height=540,
                    latex_delimiters=[],
                    allow_tags=False,
                    sanitize_html=True,
                    feedback_options=("Like", "Dislike"),
                    placeholder="Ask a question about the articles in the store.",
                )
                question = gr.Textbox(
                    show_label=False,
                    placeholder="Ask about the news, e.g. who took part, what was agreed…",
                    elem_id="nr-question",
                    max_lines=4,
                )
                with gr.Row():
                    ask_btn = gr.Button("Ask", variant="primary", elem_id="nr-ask")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="nr-stop")
                    new_btn = gr.Button("New conversation", elem_id="nr-new")
                feedback_status = gr.Markdown(elem_id="nr-feedback")
                if example_list:
                    gr.Examples(examples=[[q] for q in example_list], inputs=[question], label="Try asking")
                with gr.Accordion("Settings", open=False):
                    backend = gr.Dropdown(backend_choices, value=settings.llm, label="Model backend")
                    top_k = gr.Slider(
                        1,
                        max(MAX_PASSAGES, settings.top_k),
                        value=settings.top_k,
                        step=1,
                        label="Passages retrieved",
                    )
                    outlet_filter = gr.Dropdown(
                        outlets, value=[], multiselect=True, label="Outlets (none selected = all)"
                    )
                    with gr.Row():
                        since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD")
                        until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD")
                        as_of = gr.Textbox(
                            label="As of",
                            placeholder="YYYY-MM-DD",
                            info='Ask as if today were this date ("this week", "yesterday" count from it)',
                        )
            with gr.Column(scale=2, elem_id="nr-sources-col"):
                sources = gr.HTML(render.placeholder_panel(), elem_id="nr-sources")

        with gr.Tab("Articles"):
            articles = gr.HTML(handlers.articles_html(pipeline), elem_id="nr-articles")
            refresh_btn = gr.Button("Refresh list")
            upload = gr.File(
                file_count="multiple",
                type="filepath",
                file_types=[".txt", ".md", ".html", ".htm", ".json", ".jsonl"],
                label="Add article files",
                elem_id="nr-upload",
            )
            add_btn = gr.Button("Add to store", variant="primary", elem_id="nr-add")
            ingest_status = gr.Markdown(elem_id="nr-ingest-status")

        answering = gr.on(
            triggers=[question.submit, ask_btn.click],
            fn=partial(handlers.respond, pipeline),
            inputs=[question, chatbot, conversation, backend, top_k, outlet_filter, since, until, as_of],
            outputs=[question, chatbot, sources, conversation],
            api_name="chat",
            api_visibility="undocumented",
            show_progress="hidden",
        )
        stop_btn.click(
            handlers.mark_stopped,
            [chatbot, conversation],
            [chatbot],
            cancels=[answering],
            api_visibility="private",
        )
        new_btn.click(
            handlers.new_conversation,
            None,
            [chatbot, sources, conversation, question],
            cancels=[answering],
            api_visibility="private",
        )
        # Gradio reads the annotations of these two (gr.LikeData, API types); a functools.partial hides them.
        feedback_file = Path(settings.feedback_file)

        def on_like(conversation: handlers.Conversation, data: gr.LikeData) -> str:
            return _on_like(feedback_file, conversation, data)

        chatbot.like(
            on_like,
            [conversation],
            [feedback_status],
            api_visibility="private",
        )
        refresh_btn.click(
            partial(_refresh_articles, pipeline), None, [articles, outlet_filter], api_visibility="private"
        )
        add_btn.click(
            partial(_ingest, pipeline),
            [upload],
            [ingest_status, articles, outlet_filter],
            api_visibility="private",
        )

        def ask(question: str, as_of: str = "") -> dict:
            """Answer one question from the articles (no history), optionally as of a YYYY-MM-DD date;
            returns the `rag ask --json` dictionary."""
            return _ask_endpoint(pipeline, question, as_of)

        gr.api(ask, api_name="ask")
    return app


def _ask_endpoint(pipeline: ChatPipeline, question: str, as_of: str = "") -> dict:
    """Answer `question` from the articles; returns the `rag ask --json` dictionary."""
    try:
        return handlers.ask_api(pipeline, question, as_of or None)
    except RagError as e:
        raise gr.Error(str(e)) from e


def _on_like(feedback_file: Path, conversation: handlers.Conversation, data: gr.LikeData) -> str:
    index = data.index if isinstance(data.index, int) else data.index[0]
    return handlers.record_vote(feedback_file, conversation, index, data.liked)


def _refresh_articles(pipeline: ChatPipeline) -> tuple[str, Any]:
    return handlers.articles_html(pipeline), gr.Dropdown(choices=handlers.outlet_choices(pipeline))


def _ingest(
    pipeline: ChatPipeline,
    files: list[str] | None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - how Gradio attaches a progress bar
) -> tuple[str, str, Any]:
    def report(done: int, total: int, label: str) -> None:
        progress((done, max(total, 1)), desc=label)

    summary = handlers.ingest_files(pipeline, files, report)
    return summary, handlers.articles_html(pipeline), gr.Dropdown(choices=handlers.outlet_choices(pipeline))

"""A deterministic synthetic news corpus for benchmarks: the same seed always gives the same articles.

Articles look like wire-era news: a dateline lead, attributed quotes, background paragraphs, 250-1100 words.
They reuse a fixed pool of people, places, organisations and outlets, so BM25 sees realistic repeated names
(long posting lists for common ones), and several outlets cover the same event with a shared wire paragraph
copied word for word, so near-duplicate collapse and corroboration have work to do at every size.

    articles = synthetic_articles(n_chunks=1000, seed=7)            # list[rag.types.Article]
    paths = write_jsonl(articles, out_dir, per_file=500)           # what `rag ingest` / Pipeline.ingest read
    questions = synthetic_questions(seed=7, n=20)                   # varied questions about the pool

Pure: no model, no tokenizer. `count_chunks` lets the caller measure articles with the real chunker; the
default estimate (about 110 words of new text per 180-token chunk) is within ~10% for this corpus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rag.types import Article


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Anna James Maria David Sofia Omar Li Elena Pierre Hannah Yusuf Ines Mateo Olga Ravi Chloe Tomasz "
    "Amara Kenji Fatima Lars Priya Samuel Noor Lucia Viktor Grace Hamid Ingrid Diego Mei Kwame Helena "
    "Arjun Zofia Felix Leila Rosa Dmitri Aisha Jonas Carmen Idris Freya Marco Nadia Stefan Yara Paolo "
    "Ayumi"
)
SURNAMES = _words(
    "Keller Moreau Okafor Lindqvist Haddad Novak Brennan Tanaka Costa Petrov Alvarez Nakamura Schmidt "
    "Dubois Kowalski Mensah Rossi Larsen Adeyemi Fischer Romero Ivanova Bauer Chen Kaur Silva Jansen "
    "Nilsen Horvat Ahmadi Marchetti Sato Varga Oyelaran Castellano Wójcik Lambert Kuznetsov Berg Mahmoud "
    "Fontaine Quinn Duarte Eriksen Kimura Abara Vogel Rahman Sokolov Delacroix Mbeki Holm Navarro Ricci "
    "Yilmaz Farrow Gallo Strand Osei Lund Baptiste Herrera Morales Pereira Wolff Ozturk Grant Aziz Salo "
    "Engel Reyes Jovanovic"
)
ROLES = (
    "foreign minister",
    "finance minister",
    "defence minister",
    "health minister",
    "prime minister",
    "central bank governor",
    "chief executive",
    "trade envoy",
    "energy commissioner",
    "mayor",
    "opposition leader",
    "union leader",
    "chief economist",
    "climate envoy",
    "interior minister",
)
COUNTRIES = (
    "France",
    "Germany",
    "Poland",
    "Spain",
    "Italy",
    "Norway",
    "Kenya",
    "Nigeria",
    "Japan",
    "Brazil",
    "Canada",
    "India",
    "Turkey",
    "Egypt",
    "Chile",
    "Vietnam",
    "Sweden",
    "Ghana",
    "Mexico",
    "Portugal",
    "Finland",
    "Indonesia",
    "Morocco",
    "Austria",
    "Greece",
    "Peru",
    "Ireland",
    "Romania",
    "Denmark",
    "Colombia",
)
CITIES = (
    "Paris",
    "Berlin",
    "Warsaw",
    "Madrid",
    "Rome",
    "Oslo",
    "Nairobi",
    "Lagos",
    "Tokyo",
    "Brasília",
    "Ottawa",
    "New Delhi",
    "Ankara",
    "Cairo",
    "Santiago",
    "Hanoi",
    "Stockholm",
    "Accra",
    "Mexico City",
    "Lisbon",
    "Helsinki",
    "Jakarta",
    "Rabat",
    "Vienna",
    "Athens",
    "Lima",
    "Dublin",
    "Bucharest",
    "Copenhagen",
    "Bogotá",
    "Geneva",
    "Brussels",
    "Singapore",
    "Istanbul",
    "Marseille",
    "Hamburg",
    "Gdańsk",
    "Porto",
    "Osaka",
    "Mombasa",
)
ORGANISATIONS = (
    "the European Commission",
    "the World Health Organization",
    "the International Monetary Fund",
    "the African Union",
    "the United Nations",
    "the World Bank",
    "the OECD",
    "the International Energy Agency",
    "the Red Cross",
    "the World Trade Organization",
    "the Arctic Council",
    "the Council of Europe",
    "Northwind Energy",
    "Halvorsen Shipping",
    "Celadon Pharma",
    "Brightline Rail",
    "Orinoco Mining",
    "Tessaract Semiconductors",
    "Bluefin Fisheries",
    "Meridian Airlines",
    "Kestrel Motors",
    "Altamira Bank",
)
OUTLETS = (
    "Reuters",
    "Associated Press",
    "AFP",
    "The Guardian",
    "BBC News",
    "Financial Times",
    "Le Monde",
    "Deutsche Welle",
    "Al Jazeera",
    "NHK World",
    "The Irish Times",
    "El País",
    "Daily Nation",
    "The Hindu",
)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # topic -> (subjects, measures)
    "trade": (
        (
            "tariffs on steel",
            "a free-trade agreement",
            "export controls on chips",
            "grain shipments",
            "customs rules",
        ),
        (
            "a phased cut in duties",
            "a joint monitoring body",
            "new quotas",
            "a review clause after two years",
        ),
    ),
    "energy": (
        (
            "gas storage",
            "a new offshore wind auction",
            "the nuclear phase-out",
            "electricity prices",
            "a hydrogen pipeline",
        ),
        (
            "a price cap for households",
            "emergency reserves",
            "faster permits for grid links",
            "a windfall levy",
        ),
    ),
    "health": (
        (
            "a measles outbreak",
            "hospital waiting lists",
            "a shortage of antibiotics",
            "a new malaria vaccine",
            "the nursing strike",
        ),
        ("extra funding for clinics", "a vaccination drive", "emergency imports", "a pay settlement"),
    ),
    "security": (
        (
            "border incidents",
            "a ceasefire proposal",
            "cyber attacks on ports",
            "arms deliveries",
            "a naval exercise",
        ),
        ("a joint patrol mission", "new sanctions", "a hotline between capitals", "an observer mission"),
    ),
    "climate": (
        ("flood defences", "a heatwave", "wildfire season", "the coal exit", "glacier loss"),
        (
            "a national adaptation fund",
            "stricter emission limits",
            "a tree-planting programme",
            "an early-warning system",
        ),
    ),
    "economy": (
        ("inflation", "interest rates", "youth unemployment", "the housing market", "public debt"),
        ("a quarter-point rate rise", "a stimulus package", "a cap on rents", "a spending review"),
    ),
    "transport": (
        (
            "a rail strike",
            "airport congestion",
            "a high-speed rail line",
            "electric buses",
            "port automation",
        ),
        ("a new timetable", "a ticket subsidy", "a tender for rolling stock", "compensation for travellers"),
    ),
}
VERBS_SAY = (
    "said",
    "told reporters",
    "said in a statement",
    "told a news conference",
    "wrote on social media",
)
ADJECTIVES = ("difficult", "constructive", "frank", "productive", "tense", "long", "cautious", "decisive")
NUMBERS = ("two", "three", "four", "five", "six", "a dozen", "about 40", "more than 200", "nearly 1,500")
COUNTRY_COUNTS = ("two", "three", "four", "five", "six", "seven", "a dozen", "more than 20")
MONTHS = _words("January February March April May June July August September October November December")


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    country: str

    @property
    def surname(self) -> str:
        return self.name.split()[-1]


@dataclass(frozen=True)
class Event:
    """Something that happened once and that several outlets report (sharing one wire paragraph)."""

    event_id: int
    topic: str
    subject: str
    measure: str
    city: str
    day: date
    people: tuple[Person, ...]
    organisation: str
    figure: str
    wire: str


def _people(rng: random.Random, n: int) -> list[Person]:
    names: set[str] = set()
    out: list[Person] = []
    while len(out) < n:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        if name in names:
            continue
        names.add(name)
        out.append(Person(name, rng.choice(ROLES), rng.choice(COUNTRIES)))
    return out


def _event(rng: random.Random, event_id: int, people: Sequence[Person]) -> Event:
    topic = rng.choice(sorted(TOPICS))
    subjects, measures = TOPICS[topic]
    cast = tuple(rng.sample(list(people), rng.randint(2, 4)))
    subject, measure = rng.choice(subjects), rng.choice(measures)
    city, org, figure = rng.choice(CITIES), rng.choice(ORGANISATIONS), rng.choice(COUNTRY_COUNTS)
    day = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 900))
    host = cast[0]
    wire = (
        f"Officials from {figure} countries met in {city} on {day.strftime('%A')} to discuss {subject}, "
        f"with {host.country}'s {host.role} {host.name} chairing the session. "
        f"A draft text seen by reporters proposes {measure} and asks {org} to report back within "
        f"{rng.choice(('30', '60', '90'))} days."
    )
    return Event(event_id, topic, subject, measure, city, day, cast, org, figure, wire)


def _sentence_pool(rng: random.Random, event: Event, outlet: str) -> list[str]:
    """Sentences an article about `event` may use; each call draws different phrasings and details."""
    p = event.people
    a, b = p[0], p[1]
    say = rng.choice
    return [
        f"{b.name}, {b.country}'s {b.role}, called the talks {say(ADJECTIVES)} and said {event.measure} "
        f"would need the backing of {event.organisation}.",
        f"\u201cWe cannot wait another year on {event.subject},\u201d {a.surname} {say(VERBS_SAY)}.",
        f"Critics in {rng.choice(CITIES)} said the plan did too little and came too late.",
        f"The meeting followed weeks of pressure from business groups and unions over {event.subject}.",
        f"{event.organisation[0].upper() + event.organisation[1:]} is expected to publish its own assessment "
        f"in {say(MONTHS)}.",
        f"Analysts at {say(ORGANISATIONS)} estimate the cost at {rng.randint(2, 90)} billion euros over "
        f"{rng.randint(2, 10)} years.",
        f"{a.surname} declined to say whether {say(COUNTRIES)} would join the agreement.",
        f"Protesters gathered outside the venue in {event.city}, where police said {say(NUMBERS)} people "
        f"took part.",
        f"The {a.role} is due to brief parliament on {say(('Monday', 'Tuesday', 'Wednesday', 'Friday'))}.",
        f"According to figures published last month, {event.subject} has cost the region "
        f"{rng.randint(100, 999)} million euros since {rng.randint(2015, 2022)}.",
        f"{outlet} understands that a second round of talks could take place in {say(CITIES)}.",
        f"Officials stressed that no final decision had been taken and that {event.measure} "
        "remained a draft.",
        f"Asked about the timing, {b.surname} said: "
        "\u201cThe direction is clear; the details will follow.\u201d",
        f"Earlier this year {say(p).name} warned that {event.subject} was becoming a test of credibility.",
    ] + [f"{q.name}, the {q.role} of {q.country}, also attended the session in {event.city}." for q in p[2:]]


def _background(rng: random.Random, event: Event) -> str:
    """A background sentence about the topic; the slot combinations make repeats within an article rare."""
    subjects, measures = TOPICS[event.topic]
    country, city, org = rng.choice(COUNTRIES), rng.choice(CITIES), rng.choice(ORGANISATIONS)
    return rng.choice(
        (
            f"In {rng.choice(MONTHS)} {rng.randint(2016, 2022)}, {country} tried {rng.choice(measures)}, "
            f"with mixed results according to {org}.",
            f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}, a researcher in {city}, said "
            f"{rng.choice(subjects)} "
            f"and {event.subject} were now debated together.",
            f"Figures from {org} show {rng.randint(3, 48)} per cent of households in {country} affected by "
            f"{event.subject}.",
            f"Talks in {city} in {rng.randint(2017, 2022)} collapsed over {rng.choice(subjects)}.",
            f"Business leaders in {city} have asked for {rng.choice(measures)} since at least "
            f"{rng.randint(2015, 2022)}.",
        )
    )


def _article(rng: random.Random, event: Event, outlet: str, index: int) -> Article:
    words_target = int(min(1100, max(250, rng.lognormvariate(6.1, 0.4))))
    dateline = f"{event.city.upper()}, {event.day.strftime('%d %B %Y').lstrip('0')} ({outlet}) \u2013 "
    lead = (
        f"{dateline}{event.people[0].name} and {event.people[1].name} met in {event.city} on "
        f"{event.day.strftime('%A')} as pressure grew over {event.subject}."
    )
    paragraphs = [lead, event.wire]
    words = len(lead.split()) + len(event.wire.split())
    unused = _sentence_pool(rng, event, outlet)
    rng.shuffle(unused)
    while words < words_target:
        size = rng.randint(2, 4)
        sentences = [unused.pop() if unused else _background(rng, event) for _ in range(size)]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        words += len(paragraph.split())
    title = f"{event.city} talks on {event.subject} end with call for {event.measure}"
    doc_id = f"syn{event.event_id:06d}-{index}"
    return Article(
        doc_id=doc_id,
        title=title,
        source=outlet,
        published_at=event.day.isoformat(),
        url=f"https://example.invalid/{doc_id}",
        text="\n\n".join(paragraphs),
    )


def estimate_chunks(article: Article) -> int:
    """About 110 words of new text per 180-token chunk with 30 tokens of overlap (for this corpus)."""
    return max(1, round(len(article.text.split()) / 110))


def synthetic_articles(
    n_chunks: int, seed: int = 7, count_chunks: Callable[[Article], int] = estimate_chunks
) -> list[Article]:
    """Articles adding up to at least `n_chunks` chunks (as counted by `count_chunks`), in a fixed order.

    Each event is covered by 1-3 outlets; the same (n_chunks, seed) always gives the same articles, and a
    smaller corpus is a prefix of a larger one with the same seed.
    """
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be at least 1, got {n_chunks}.")
    rng = random.Random(seed)
    people = _people(rng, 300)
    articles: list[Article] = []
    total = 0
    event_id = 0
    while total < n_chunks:
        event = _event(random.Random(f"{seed}-event-{event_id}"), event_id, people)
        article_rng = random.Random(f"{seed}-articles-{event_id}")
        outlets = article_rng.sample(OUTLETS, article_rng.choice((1, 1, 2, 2, 3)))
        for index, outlet in enumerate(outlets):
            article = _article(article_rng, event, outlet, index)
            articles.append(article)
            total += count_chunks(article)
            if total >= n_chunks:
                break
        event_id += 1
    return articles


def _subject(rng: random.Random) -> str:
    return rng.choice(TOPICS[rng.choice(sorted(TOPICS))][0])


def synthetic_questions(n: int = 20, seed: int = 7) -> list[str]:
    """Varied questions about the people, places and topics the synthetic corpus draws from."""
    rng = random.Random(f"{seed}-questions")
    people = _people(random.Random(seed), 300)
    forms = (
        lambda: f"What did {rng.choice(people).name} say about {_subject(rng)}?",
        lambda: f"Who chaired the talks in {rng.choice(CITIES)}?",
        lambda: f"Which countries met to discuss {rng.choice(TOPICS[rng.choice(sorted(TOPICS))][0])}?",
        lambda: f"What did {rng.choice(ORGANISATIONS)} propose?",
        lambda: f"How much will {rng.choice(TOPICS[rng.choice(sorted(TOPICS))][0])} cost?",
        lambda: f"Where did the {rng.choice(ROLES)} of {rng.choice(COUNTRIES)} meet officials?",
        lambda: f"When is the {rng.choice(ROLES)} due to brief parliament?",
        lambda: f"How many people protested in {rng.choice(CITIES)}?",
        lambda: f"Is {rng.choice(TOPICS[rng.choice(sorted(TOPICS))][1])} a final decision?",
        lambda: f"{rng.choice(people).surname} {rng.choice(TOPICS[rng.choice(sorted(TOPICS))][1])}",
    )
    return [forms[i % len(forms)]() for i in range(n)]


def write_jsonl(articles: Sequence[Article], directory: Path, per_file: int = 500) -> list[Path]:
    """Write articles as JSONL files (`per_file` records each) that `rag ingest` reads back unchanged."""
    if per_file < 1:
        raise ValueError(f"per_file must be at least 1, got {per_file}.")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, start in enumerate(range(0, len(articles), per_file)):
        path = directory / f"synthetic-{n:04d}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for a in articles[start : start + per_file]:
                record = {
                    "id": a.doc_id,
                    "title": a.title,
                    "source": a.source,
                    "published_at": a.published_at,
                    "url": a.url,
                    "body": a.text,
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths

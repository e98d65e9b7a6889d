"""Synthetic but realistic articles and watchlists for the matcher benchmark.

Everything comes from one seeded `random.Random`, so a run is reproducible.

Articles: a title of 7–12 words and a summary of about 60 words per length unit,
half English and half Spanish (with accents), drawn Zipf-like from a news
vocabulary, with capitalised names, numbers and punctuation. New proper nouns
keep appearing (a long tail of generated names), so the matcher's token cache
keeps missing as it would on a live feed. About one article in six carries a
watchlist term, sometimes with one typo.

Watchlists: T terms in topics of ten: names of one or two words, 2–3 word
phrases that mix news words and names (so common words start candidate
phrases, the costly case), all-caps acronyms of 2–4 letters, and every fifth
topic an all_of of names with common news words within a window, plus an
exclude. Fuzzy matching is on (the default 90) everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from monitor.core.models import Article
from monitor.matching.watchlists import Topic, Watchlist


def _word_list(text: str) -> list[str]:
    """Words of a block of text, most common first (the order draws follow)."""
    return text.split()


EN = _word_list("""the of to and in a for on that is with said by was as at from it has
be have are an its not but they he this will were been his their more after
government security border president officials police military cartel cartels
drug drugs trafficking agents agency federal state city country minister law
court judge trial case charges arrest arrested prison attack attacks killed
violence forces troops army navy national international foreign public report
reports according week year years month day people group groups leaders leader
told statement spokesman press conference meeting talks agreement deal policy
plan plans program funding aid support cooperation relations bilateral summit
election campaign vote congress senate house lawmakers bill reform economy
trade tariffs imports exports market prices oil energy migrants migration
asylum crossing crossings port ports shipment seized seizure tons pills lab labs
investigation prosecutors evidence witness testimony lawyer defense sentence
guilty extradition extradited fugitive kingpin boss network money laundering
weapons guns arms smuggling smuggled chemicals precursors supply chain health
overdose deaths crisis emergency response strategy operation operations raid
raids intelligence surveillance drones strike strikes sovereignty pressure
threat threats warned warning announced approved rejected signed""")

ES = _word_list("""el la de que y en los las del se por un una con para al es su lo como
más pero sus le ya o fue este ha sí porque esta entre cuando muy sin sobre
también me hasta hay donde quien desde todo nos durante todos uno les ni
gobierno seguridad frontera presidenta presidente funcionarios policía militar
cártel cárteles droga drogas narcotráfico agentes agencia federal estado ciudad
país secretario ley tribunal juez juicio caso cargos detención detenido prisión
ataque ataques asesinados violencia fuerzas tropas ejército marina nacional
internacional extranjeros pública informe según semana año años mes día
personas grupo grupos líderes líder dijo comunicado vocero conferencia reunión
diálogo acuerdo política plan programa financiamiento ayuda apoyo cooperación
relación bilateral cumbre elección campaña votación congreso senado diputados
iniciativa reforma economía comercio aranceles importaciones exportaciones
mercado precios petróleo energía migrantes migración asilo cruce garita puerto
cargamento asegurado decomiso toneladas pastillas laboratorio laboratorios
investigación fiscalía pruebas testigo declaración abogado defensa sentencia
culpable extradición extraditado prófugo capo jefe red lavado dinero armas
contrabando químicos precursores cadena salud sobredosis muertes crisis
emergencia respuesta estrategia operación operativo operaciones inteligencia
vigilancia drones soberanía presión amenaza amenazas advirtió anunció aprobó
rechazó firmó mañanera Palacio""")

SYLLABLES = [c + v for c in "bcdfghjklmnprstvzx" for v in "aeiou"] + ["qui", "gue", "ll", "ñ"]


def pseudo_name(rng: random.Random) -> str:
    """A capitalised made-up proper noun of 2–4 syllables (5–12 letters)."""
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
    word += rng.choice(["", "", "n", "s", "z", "r", "ez"])
    return word.capitalize()


@dataclass(frozen=True, slots=True)
class Corpus:
    watchlists: list[Watchlist]
    terms: list[str]  # every term, group word and exclude, for the baselines
    articles: list[Article]


def make_watchlists(n_terms: int, rng: random.Random) -> tuple[list[Watchlist], list[str]]:
    topics, all_terms = [], []
    for index in range(max(n_terms // 10, 1)):
        terms = [_make_term(rng) for _ in range(10 if index % 5 else 4)]
        extra: dict = {}
        if index % 5 == 0:  # 4 terms + an all_of of two 3-word groups = 10 terms
            extra = {
                "all_of": (
                    tuple(_make_term(rng, kind="name") for _ in range(3)),
                    tuple(rng.choice(EN + ES) for _ in range(3)),
                ),
                "window": 20,
                "exclude": (_make_term(rng, kind="phrase"),),
            }
            all_terms += [w for g in extra["all_of"] for w in g] + list(extra["exclude"])
        all_terms += terms
        topics.append(
            Topic(id=f"topic-{index}", title=f"Topic {index}", terms=tuple(terms), **extra)
        )
    return [Watchlist(id="bench", title="Benchmark", topics=tuple(topics))], all_terms


def _make_term(rng: random.Random, kind: str | None = None) -> str:
    kind = kind or rng.choices(["name", "phrase", "acronym"], [50, 38, 12])[0]
    if kind == "name":
        return pseudo_name(rng) + (f" {pseudo_name(rng)}" if rng.random() < 0.3 else "")
    if kind == "acronym":
        return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVZ") for _ in range(rng.randint(2, 4)))
    # a news word and a name, sometimes joined by a preposition, in either order
    # ("arrest of Hocon", "Cuvizegez abogado"): common first words are the costly case
    vocab = rng.choice([EN, ES])
    words = [rng.choice(vocab[40:]), pseudo_name(rng)]
    if rng.random() < 0.4:
        words.insert(1, "of" if vocab is EN else "de")
    if rng.random() < 0.3:
        words.reverse()
    return " ".join(words)


def make_articles(
    n: int, terms: list[str], rng: random.Random, length: int = 1, names: int = 20_000
) -> list[Article]:
    name_pool = [pseudo_name(rng) for _ in range(names)]
    return [_make_article(i, terms, name_pool, rng, length) for i in range(n)]


def _make_article(
    index: int, terms: list[str], names: list[str], rng: random.Random, length: int
) -> Article:
    vocab = EN if index % 2 else ES
    title = _sentence(rng, vocab, names, rng.randint(7, 12)).rstrip(".")
    summary = " ".join(_sentence(rng, vocab, names, rng.randint(8, 16)) for _ in range(5 * length))
    if terms and rng.random() < 0.16:
        term = rng.choice(terms)
        if len(term) > 9 and rng.random() < 0.3:  # one adjacent swap
            i = rng.randrange(1, len(term) - 2)
            term = term[:i] + term[i + 1] + term[i] + term[i + 2 :]
        words = summary.split(" ")
        words.insert(rng.randrange(len(words)), term)
        summary = " ".join(words)
    return Article(id=f"a{index}", feed_url="bench", url=f"u{index}", title=title, summary=summary)


def _sentence(rng: random.Random, vocab: list[str], names: list[str], n_words: int) -> str:
    words = []
    for _ in range(n_words):
        roll = rng.random()
        if roll < 0.08:  # names follow a long tail: a few are frequent, most are rare
            words.append(names[min(int(rng.paretovariate(0.6)) - 1, len(names) - 1)])
        elif roll < 0.11:
            words.append(str(rng.randint(2, 2025)))
        else:  # Zipf-like: early (common) words far more often
            words.append(vocab[min(int(rng.expovariate(1 / 40)), len(vocab) - 1)])
        if rng.random() < 0.06:
            words[-1] += ","
    return (" ".join(words) + ".").capitalize()


def make_corpus(n_articles: int, n_terms: int, seed: int = 42, length: int = 1) -> Corpus:
    rng = random.Random(seed)
    watchlists, terms = make_watchlists(n_terms, rng)
    return Corpus(watchlists, terms, make_articles(n_articles, terms, rng, length))

"""The post-crisis report: one self-contained HTML page, or its PDF.

    relais report --from 2026-11-28 --to 2026-11-29 [--format html|pdf]
                  [--language fr|en] [--out rapport.pdf]

What happened when (statement versions, answer changes, publishes and
rollbacks, switches, spikes and the topics made from them), the volume,
what the bot absorbed, the handoffs and response times, the gaps and how
they were closed, and sentiment over time: charts and tables a
communications director can forward as they are. In French unless asked
otherwise. Everything is read from Relais' database (the 5-minute buckets
and tickets kept by `relais purge`), so a report can be made after the
conversations themselves are gone. The PDF is Chromium's print of the page.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import get_session_factory, utcnow
from bot.faq.audit import AnswerSent
from bot.faq.live import current_pack
from bot.faq.pack import Topic
from bot.faq.statement import STATEMENT_TOPIC, Statement
from bot.handoff.hours import TeamHours
from bot.handoff.models import PRIORITIES
from bot.handoff.switches import SwitchChange
from bot.insights import charts, gaps, overview, satisfaction, targets
from bot.insights.labels import count, duration, label, percent
from bot.insights.models import GapSpike
from bot.publish.history import ModelPublish
from bot.settings import Settings

TEMPLATES = Path(__file__).with_name("templates")
PDF_SECONDS = 120
GAPS_SHOWN = 12


WORDS = {
    "fr": {
        "title": "Rapport de crise",
        "period": "Période",
        "generated": "Établi le",
        "summary": "En bref",
        "messages": "Messages",
        "conversations": "Conversations",
        "deflection": "Traitées par le bot, sans humain",
        "did_you_mean": "« Vouliez-vous dire » (part des messages)",
        "handoffs": "Confiées à l'équipe",
        "to_human": "Délai avant la réponse d'un humain",
        "handling": "Durée de traitement",
        "median": "médiane",
        "p90": "9 sur 10 en moins de",
        "negative": "Messages négatifs ou en colère",
        "angry": "dont en colère",
        "timeline": "Chronologie",
        "nothing_happened": "Aucune action enregistrée sur la période.",
        "volume": "Volume par heure, selon ce qu'il est advenu des messages",
        "curve": "Messages et file d'attente, par 5 minutes",
        "handoff_title": "Passages à l'équipe",
        "reason": "Motif",
        "priority": "Priorité",
        "count": "Nombre",
        "topics": "Questions les plus posées (répondues par le bot)",
        "languages": "Langues",
        "gaps": "Questions sans réponse, regroupées",
        "gap": "Question (exemple)",
        "size": "Messages",
        "first": "Première",
        "last": "Dernière",
        "nearest": "Fiche la plus proche",
        "closed": "Fiche créée",
        "no_gaps": "Aucune question sans réponse.",
        "mood": "Part des messages négatifs, par heure",
        "at": "Quand",
        "what": "Quoi",
        "kind": {
            "statement": "Déclaration",
            "answer": "Réponse",
            "publish": "Publication",
            "switch": "Interrupteur",
            "spike": "Pic",
            "topic": "Fiche",
        },
        "footer": "Chiffres établis par Relais, d'après les conversations et tickets.",
        "targets": "Premières réponses dans les délais",
        "within": "Dans les délais",
        "missed": "En retard",
        "share": "Part",
        "opened_at": "Ouvertes à",
        "all": "Toutes",
        "next_missed": "Réponses en retard après une relance de la personne : {n}",
        "no_targets": "Aucune prise en charge jugée sur la période.",
        "satisfaction": "Satisfaction après un échange avec l'équipe",
        "satisfaction_summary": (
            "{satisfied} de satisfaits ({answered} réponses sur {asked} "
            "questions posées), note moyenne {average}."
        ),
        "per": "Par agent, motif et canal",
        "group": {"agent": "Agent", "reason": "Motif", "channel": "Canal"},
        "asked": "Questions",
        "answers": "Réponses",
        "satisfied": "Satisfaits",
        "average": "Moyenne",
        "no_satisfaction": "Personne n'a été interrogé sur la période.",
    },
    "en": {
        "title": "Crisis report",
        "period": "Period",
        "generated": "Made on",
        "summary": "In short",
        "messages": "Messages",
        "conversations": "Conversations",
        "deflection": "Handled by the bot, no human needed",
        "did_you_mean": "“Did you mean” (share of messages)",
        "handoffs": "Handed to the team",
        "to_human": "Time to a human's first reply",
        "handling": "Handling time",
        "median": "median",
        "p90": "9 in 10 within",
        "negative": "Negative or angry messages",
        "angry": "angry",
        "timeline": "Timeline",
        "nothing_happened": "No action recorded in the period.",
        "volume": "Messages per hour, by what became of them",
        "curve": "Messages and queue, every 5 minutes",
        "handoff_title": "Handoffs to the team",
        "reason": "Reason",
        "priority": "Priority",
        "count": "Count",
        "topics": "Most asked questions (answered by the bot)",
        "languages": "Languages",
        "gaps": "Unanswered questions, grouped",
        "gap": "Question (example)",
        "size": "Messages",
        "first": "First",
        "last": "Last",
        "nearest": "Nearest topic",
        "closed": "Topic made",
        "no_gaps": "No unanswered question.",
        "mood": "Share of negative messages per hour",
        "at": "When",
        "what": "What",
        "kind": {
            "statement": "Statement",
            "answer": "Answer",
            "publish": "Publish",
            "switch": "Switch",
            "spike": "Spike",
            "topic": "Topic",
        },
        "footer": "Figures made by Relais from the conversations and tickets.",
        "targets": "First replies within target",
        "within": "Within",
        "missed": "Late",
        "share": "Share",
        "opened_at": "Opened at",
        "all": "All",
        "next_missed": "Late replies after the person wrote again: {n}",
        "no_targets": "No handoff to judge in the period.",
        "satisfaction": "Satisfaction after an exchange with the team",
        "satisfaction_summary": (
            "{satisfied} satisfied ({answered} answers of {asked} questions "
            "asked), average rating {average}."
        ),
        "per": "Per agent, reason and channel",
        "group": {"agent": "Agent", "reason": "Reason", "channel": "Channel"},
        "asked": "Asked",
        "answers": "Answers",
        "satisfied": "Satisfied",
        "average": "Average",
        "no_satisfaction": "Nobody was asked in the period.",
    },
}


@dataclass(frozen=True)
class Part:
    """A section a room above the figures adds to the report (the
    corrections sent, bot/corrections/figures.py): its title, a table, and
    what it says when the table is empty. The first `text_columns` columns
    are words, the others figures."""

    key: str
    title: str
    headings: list[str]
    rows: list[list[str]]
    empty: str
    text_columns: int = 1


# Makes a part: (session, settings, start, end, language) -> Part.
PartMaker = Callable[[Session, Settings, datetime, datetime, str], Part]


class ReportError(RuntimeError):
    """The report cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Moment:
    at: datetime
    kind: str
    text: str


def _local(at: datetime, settings: Settings) -> str:
    return at.astimezone(settings.timezone).strftime("%d/%m %H:%M")


def timeline(
    session: Session, start: datetime, end: datetime, language: str
) -> list[Moment]:
    """What the team did and what happened, in time order."""
    fr = language == "fr"
    moments = []
    for row in session.execute(
        select(Statement).where(
            Statement.state == "published",
            Statement.published_at < end,
            (Statement.cleared_at.is_(None)) | (Statement.cleared_at >= start),
        )
    ).scalars():
        text = row.text_fr if fr else row.text_en
        if row.published_at >= start:
            who = "Déclaration publiée par" if fr else "Statement published by"
            said = f" : « {text} »" if fr else f": “{text}”"
            moments.append(
                Moment(row.published_at, "statement", f"{who} {row.published_by}{said}")
            )
        if row.cleared_at and start <= row.cleared_at < end:
            who = "Déclaration retirée par" if fr else "Statement withdrawn by"
            moments.append(
                Moment(row.cleared_at, "statement", f"{who} {row.cleared_by}")
            )
    first_sent = select(
        AnswerSent.topic,
        AnswerSent.language,
        AnswerSent.version,
        func.min(AnswerSent.sent_at).label("first"),
    )
    # The statement's versions have their own moments above.
    first_sent = first_sent.where(AnswerSent.topic != STATEMENT_TOPIC).group_by(
        AnswerSent.topic, AnswerSent.language, AnswerSent.version
    )
    versions: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for topic, answer_language, _, first in session.execute(first_sent):
        versions[(topic, answer_language)].append(first)
    for (topic, answer_language), firsts in versions.items():
        for first in sorted(firsts)[1:]:  # the first version is not a change
            if start <= first < end:
                moments.append(
                    Moment(
                        first,
                        "answer",
                        f"Réponse « {topic} » ({answer_language}) modifiée"
                        if fr
                        else f"Answer “{topic}” ({answer_language}) changed",
                    )
                )
    for row in session.execute(
        select(ModelPublish).where(
            ModelPublish.finished_at >= start, ModelPublish.finished_at < end
        )
    ).scalars():
        what = (
            {
                ("publish", True): "Modèle publié",
                ("rollback", True): "Retour arrière",
                ("publish", False): "Publication refusée",
                ("rollback", False): "Retour arrière échoué",
            }
            if fr
            else {
                ("publish", True): "Model published",
                ("rollback", True): "Rolled back",
                ("publish", False): "Publish refused",
                ("rollback", False): "Rollback failed",
            }
        )
        done = row.outcome in ("published", "unchanged")
        note = (row.detail or "").splitlines()[0] if row.detail else ""
        moments.append(
            Moment(
                row.finished_at,
                "publish",
                f"{what[(row.action, done)]} ({row.author}) {note}".strip(),
            )
        )
    for row in session.execute(
        select(SwitchChange).where(
            SwitchChange.changed_at >= start, SwitchChange.changed_at < end
        )
    ).scalars():
        state = (
            ("activé" if row.enabled else "désactivé")
            if fr
            else ("on" if row.enabled else "off")
        )
        moments.append(
            Moment(row.changed_at, "switch", f"{row.name} {state} ({row.changed_by})")
        )
    for row in session.execute(
        select(GapSpike).where(
            GapSpike.detected_at >= start, GapSpike.detected_at < end
        )
    ).scalars():
        moments.append(
            Moment(
                row.detected_at,
                "spike",
                f"Pic : {row.recent} personnes en 15 min, « {row.label} »"
                if fr
                else f"Spike: {row.recent} people in 15 min, “{row.label}”",
            )
        )
        if row.topic and row.topic_at and row.topic_at < end:
            moments.append(
                Moment(
                    row.topic_at,
                    "topic",
                    f"Nouvelle fiche « {row.topic} » rédigée"
                    if fr
                    else f"New topic “{row.topic}” drafted",
                )
            )
    return sorted(moments, key=lambda moment: moment.at)


def report_context(
    session: Session,
    settings: Settings,
    pack: dict[str, Topic],
    start: datetime,
    end: datetime,
    language: str,
    parts: Sequence[PartMaker] = (),
    agent_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    figures = overview.figures_for(session, start, end)
    tz = settings.timezone
    on_time = targets.shares(
        session, start, end, utcnow(), settings.profile.response_targets,
        TeamHours.from_settings(settings),
    )  # fmt: skip
    rated = satisfaction.results(session, start, end)
    hours = [at for at, *_ in figures.per_hour]
    per_day = end - start > timedelta(days=2)
    volume = charts.stacked_bars(
        hours,
        [
            charts.Series(
                label(group, language),
                [groups[group] for _, groups, _, _ in figures.per_hour],
                charts.COLOURS[group],
            )
            for group in overview.OUTCOME_GROUPS
        ],
        tz,
        label("messages", language),
        "",
        width=1000,
    )
    curve = (
        charts.line_chart(
            [at for at, *_ in figures.per_5min],
            [
                charts.Series(
                    label("messages", language),
                    [n for _, n, _ in figures.per_5min],
                    charts.COLOURS["messages"],
                ),
                charts.Series(
                    label("queue", language),
                    [n for _, n in figures.queue],
                    charts.COLOURS["queue"],
                ),
            ],
            tz,
            label("messages", language),
            "",
            width=1000,
        )
        if not per_day
        else None
    )
    mood = charts.share_chart(
        hours,
        [share for *_, share in figures.per_hour],
        label("negative", language),
        tz,
        label("negative", language),
        "",
        width=1000,
        height=180,
    )
    groups = sorted(
        gaps.groups_between(session, start, end, pack), key=lambda g: -g.size
    )[:GAPS_SHOWN]
    spikes = list(
        session.execute(
            select(GapSpike).where(
                GapSpike.detected_at >= start, GapSpike.detected_at < end
            )
        ).scalars()
    )
    closed = {}
    for spike in spikes:
        for key in spike.phrasings or []:
            if spike.topic:
                closed[key] = (spike.topic, spike.topic_at)
    gap_rows = []
    for group in groups:
        closing = next((closed[key] for key in group.keys if key in closed), None)
        gap_rows.append(
            {
                "label": group.label,
                "size": group.size,
                "first": _local(group.first_at, settings),
                "last": _local(group.last_at, settings),
                "nearest": pack[group.nearest_topic].title(language)
                if group.nearest_topic in pack
                else "–",
                "closed": f"{closing[0]} ({_local(closing[1], settings)})"
                if closing and closing[1]
                else "",
            }
        )
    return {
        "t": WORDS[language],
        "language": language,
        "brand": settings.profile.brand,
        "start": start.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
        "end": end.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
        "generated": utcnow().astimezone(tz).strftime("%d/%m/%Y %H:%M"),
        "figures": figures,
        "timeline": [
            (_local(m.at, settings), m.kind, m.text)
            for m in timeline(session, start, end, language)
        ],
        "volume": volume,
        "curve": curve,
        "mood": mood,
        "gaps": gap_rows,
        "parts": [part(session, settings, start, end, language) for part in parts],
        "targets": {
            "rows": [
                (
                    label(f"priority.{k}", language),
                    on_time.within[k],
                    on_time.missed[k],
                    percent(on_time.share(k)),
                )
                for k in PRIORITIES
                if on_time.within[k] or on_time.missed[k]
            ],
            "all": percent(on_time.share()),
            "hours": [
                (
                    f"{hour.astimezone(tz):%d/%m %H:00}",
                    within,
                    missed,
                    percent(within / (within + missed)),
                )
                for hour, (within, missed) in sorted(on_time.per_hour.items())
            ],
            "next_missed": on_time.next_missed,
        },
        "satisfaction": {
            "rows": satisfaction.rows(rated, language, agent_names),
            "satisfied": percent(rated.overall.satisfied_share),
            "answered": rated.overall.answered,
            "asked": rated.overall.asked,
            "average": satisfaction.average(rated.overall.average, language),
        },
        "reasons": [
            (label(f"reason.{k}", language), v)
            for k, v in figures.handoffs.most_common()
        ],
        "priorities": [
            (label(f"priority.{k}", language), figures.priorities[k])
            for k in ("urgent", "high", "normal")
        ],
        "topics": [
            (pack[k].title(language) if k in pack else k, v)
            for k, v in figures.topics.most_common(10)
        ],
        "languages": [
            (label(f"language.{k}", language), v)
            for k, v in figures.languages.most_common()
        ],
        "percent": percent,
        "duration": duration,
        "count": count,
    }


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_html(context: dict[str, Any]) -> str:
    return _environment.get_template("report.html").render(**context)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ReportError(
        "A PDF needs Chromium (sudo apt-get install chromium; make test installs "
        "it). Or ask for --format html."
    )


def to_pdf(html: str) -> bytes:
    """The page printed by headless Chromium (A4, backgrounds, no headers)."""
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="relais-report-") as folder:
        page, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        try:
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-pdf-header-footer",
                    f"--user-data-dir={folder}/profile",
                    f"--print-to-pdf={pdf}",
                    page.as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=PDF_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            raise ReportError(f"Chromium could not print the report: {error}") from None
        if not pdf.is_file() or pdf.stat().st_size == 0:
            raise ReportError("Chromium printed nothing: try --format html.")
        return pdf.read_bytes()


def make(
    settings: Settings,
    start: datetime,
    end: datetime,
    language: str,
    fmt: str,
    parts: Sequence[PartMaker] = (),
    agent_names: Mapping[str, str] | None = None,
) -> bytes:
    """The report's bytes (HTML or PDF), with the `parts` rooms above add;
    agents by their display names when `agent_names` has them."""
    if end <= start:
        raise ReportError("--to must come after --from.")
    with get_session_factory(settings.database_url).begin() as session:
        context = report_context(
            session, settings, current_pack(settings), start, end, language, parts,
            agent_names,
        )  # fmt: skip
    html = render_html(context)
    return to_pdf(html) if fmt == "pdf" else html.encode("utf-8")

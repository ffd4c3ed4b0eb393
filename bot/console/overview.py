"""The overview page: the crisis at a glance, for every role, kept live.

    GET /overview                 the last 24 hours
    GET /overview?period=6h       the last 6 hours (6h, 24h, 7d)
    GET /overview?day=2026-11-28  one local day
    GET /overview/panel?...       the same figures alone: the page fetches
                                  it again every 30 seconds

Figures come from bot/insights/overview.py, charts from bot/insights/charts.py
(SVG drawn here, nothing fetched by the browser).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console import accounts
from bot.console.i18n import Words
from bot.console.pages import render_page, templates, words_for
from bot.console.security import Viewer, requires, settings_of
from bot.corrections import subscriptions
from bot.corrections.sending import SENT, CorrectionSend
from bot.db import get_session_factory
from bot.faq.live import current_pack
from bot.handoff.hours import TeamHours
from bot.handoff.models import utcnow
from bot.insights import charts, overview, satisfaction, targets
from bot.insights.facts import bucket_start
from bot.insights.labels import count, duration, label, percent
from bot.settings import Settings

EVERYONE = frozenset(accounts.ROLES)
PERIODS = {
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
TOP_TOPICS = 10
REFRESH_SECONDS = 30
ENGLISH = Words("en")


def window(
    settings: Settings, params: dict[str, str], words: Words = ENGLISH
) -> tuple[datetime, datetime, str]:
    """The period a request asks for: (start, end, how to say it)."""
    day = params.get("day")
    if day:
        try:
            local = datetime.combine(date.fromisoformat(day), datetime.min.time())
        except ValueError:
            raise HTTPException(
                400,
                words.gettext("“{day}” is not a day: write it 2026-11-28.", day=day),
            ) from None
        start = local.replace(tzinfo=settings.timezone)
        return start, start + timedelta(days=1), start.strftime("%d/%m/%Y")
    period = params.get("period") or "24h"
    if period not in PERIODS:
        raise HTTPException(
            400,
            words.gettext(
                "The period is one of {periods}.", periods=", ".join(PERIODS)
            ),
        )
    end = bucket_start(utcnow()) + overview.STEP
    return end - PERIODS[period], end, words.gettext("last {period}", period=period)


def panel_context(
    settings: Settings, params: dict[str, str], words: Words = ENGLISH
) -> dict[str, Any]:
    """The figures and charts of the period `params` asks for, in `words`."""
    _ = words.gettext
    language = words.language
    start, end, period = window(settings, params, words)
    with get_session_factory(settings.database_url).begin() as session:
        figures = overview.figures_for(session, start, end)
        corrected = session.execute(
            select(func.count()).where(
                CorrectionSend.outcome == SENT,
                CorrectionSend.at >= start,
                CorrectionSend.at < end,
            )
        ).scalar_one()
        following = sum(subscriptions.counts(session=session).values())
        on_time = targets.shares(
            session, start, end, utcnow(), settings.profile.response_targets,
            TeamHours.from_settings(settings),
        )  # fmt: skip
        rated = satisfaction.results(session, start, end)
        agent_names = accounts.display_names(session=session)
    tz = settings.timezone
    pack = current_pack(settings)
    times_5 = [at for at, _, _ in figures.per_5min]
    hours = [at for at, _, _, _ in figures.per_hour]
    volume = charts.line_chart(
        times_5,
        [
            charts.Series(
                _("Messages"),
                [n for _, n, _ in figures.per_5min],
                charts.COLOURS["messages"],
            ),
            charts.Series(
                _("Conversations"),
                [c for _, _, c in figures.per_5min],
                charts.COLOURS["conversations"],
            ),
        ],
        tz,
        _("Messages and conversations per 5 minutes"),
        _(
            "{messages} messages, {conversations} conversations, {period}.",
            messages=figures.messages,
            conversations=figures.conversations,
            period=period,
        ),
    )
    outcomes = charts.stacked_bars(
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
        _("Messages per hour, by what became of them"),
        _("Answered, did you mean, not understood, with the team: per hour."),
    )
    queue = charts.line_chart(
        times_5,
        [
            charts.Series(
                _("Waiting"), [n for _, n in figures.queue], charts.COLOURS["queue"]
            )
        ],
        tz,
        _("Queue length"),
        _("People waiting for a human, every 5 minutes."),
        width=460,
        height=200,
    )
    mood = charts.share_chart(
        hours,
        [share for *_, share in figures.per_hour],
        _("Negative or angry"),
        tz,
        _("Share of negative messages per hour"),
        _(
            "{share} negative over the period.",
            share=percent(figures.negative_share),
        ),
        width=460,
    )
    topics = [
        (pack[key].title(language) if key in pack else key, count)
        for key, count in figures.topics.most_common(TOP_TOPICS)
    ]
    return {
        "period": period,
        "params": params,
        "figures": figures,
        "cards": [
            (_("Messages"), count(figures.messages), period),
            (_("Conversations"), count(figures.conversations), _("started")),
            (
                _("Handled by the bot"),
                percent(figures.deflection),
                _("no human needed"),
            ),
            (_("“Did you mean”"), percent(figures.did_you_mean_rate), _("of messages")),
            (
                _("Handed to humans"),
                count(sum(figures.handoffs.values())),
                _("tickets"),
            ),
            (
                _("Time to a human"),
                duration(figures.to_human.median),
                _("median · p90 {p90}", p90=duration(figures.to_human.p90)),
            ),
            (
                _("Handling time"),
                duration(figures.handling.median),
                _("median · p90 {p90}", p90=duration(figures.handling.p90)),
            ),
            (
                _("Negative"),
                percent(figures.negative_share),
                _("of messages · angry {share}", share=percent(figures.angry_share)),
            ),
            (
                _("Answered within target"),
                percent(on_time.share()),
                _(
                    "first replies · urgent {urgent} · high {high} · normal {normal}",
                    urgent=percent(on_time.share("urgent")),
                    high=percent(on_time.share("high")),
                    normal=percent(on_time.share("normal")),
                ),
            ),
            (
                _("Satisfied after a handoff"),
                percent(rated.overall.satisfied_share),
                _(
                    "{answered} answers of {asked} asked · average {average}",
                    answered=count(rated.overall.answered),
                    asked=count(rated.overall.asked),
                    average=satisfaction.average(rated.overall.average, language),
                ),
            ),
            (
                _("Corrections and news"),
                count(corrected),
                _("sent · {n} following the news", n=count(following)),
            ),
        ],
        "satisfaction": {
            "rows": satisfaction.rows(rated, language, agent_names),
            "comments": [
                (
                    f"{c.at.astimezone(tz):%d/%m %H:%M}",
                    agent_names.get(c.agent, c.agent),
                    c.rating,
                    c.text,
                )
                for c in rated.comments
            ],
        },
        "volume": volume,
        "outcomes": outcomes,
        "queue": queue,
        "mood": mood,
        "topics": charts.hbars(topics, _("Top topics answered")),
        "reasons": charts.hbars(
            [
                (label(f"reason.{k}", language), v)
                for k, v in figures.handoffs.most_common()
            ],
            _("Handoffs by reason"),
            colour=charts.COLOURS["humans"],
        ),
        "priorities": charts.hbars(
            [
                (label(f"priority.{k}", language), figures.priorities[k])
                for k in ("urgent", "high", "normal")
                if figures.priorities[k]
            ],
            _("Handoffs by priority"),
            colour=charts.COLOURS["humans"],
        ),
        "languages": charts.hbars(
            [
                (label(f"language.{k}", language), v)
                for k, v in figures.languages.most_common()
            ],
            _("Messages by language"),
            colour=charts.COLOURS["conversations"],
        ),
    }


def _params(request: Request) -> dict[str, str]:
    return {
        key: request.query_params[key]
        for key in ("period", "day")
        if request.query_params.get(key)
    }


@requires(EVERYONE)
async def overview_page(request: Request, viewer: Viewer) -> Response:
    context = await run_in_threadpool(
        panel_context,
        settings_of(request),
        _params(request),
        words_for(request, viewer),
    )
    return render_page(
        request,
        "overview.html",
        viewer,
        refresh=REFRESH_SECONDS,
        periods=list(PERIODS),
        **context,
    )


@requires(EVERYONE)
async def overview_panel(request: Request, viewer: Viewer) -> Response:
    words = words_for(request, viewer)
    context = await run_in_threadpool(
        panel_context, settings_of(request), _params(request), words
    )
    return templates.TemplateResponse(
        request,
        "overview_panel.html",
        {**context, "_": words.gettext},
        headers={"Cache-Control": "no-store"},
    )


routes = [
    Route("/overview", overview_page),
    Route("/overview/panel", overview_panel),
]

"""The report's "corrections" part: which corrections went out in the
period, who approved them, and what became of the people they concerned.

The post-crisis report (bot/insights/report.py) sits below this room; the
commands and the console that make it pass `report_part` in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.corrections import recipients, sending
from bot.corrections.drafts import APPROVED, Correction
from bot.insights.report import Part
from bot.settings import Settings

WORDS = {
    "fr": {
        "title": "Corrections envoyées",
        "correction": "Correction",
        "changed": "Ce qui a changé",
        "approved": "Approuvée",
        "urgent": "urgente",
        "sent": "Envoyées",
        "by_agent": "Par un agent",
        "late": "Hors délai du canal",
        "unreachable": "Injoignables",
        "failed": "En échec",
        "none": "Aucune correction envoyée sur la période.",
        "by": "par {name}, {at}",
    },
    "en": {
        "title": "Corrections sent",
        "correction": "Correction",
        "changed": "What changed",
        "approved": "Approved",
        "urgent": "urgent",
        "sent": "Sent",
        "by_agent": "By an agent",
        "late": "Past the channel's window",
        "unreachable": "Unreachable",
        "failed": "Failed",
        "none": "No correction sent in the period.",
        "by": "by {name}, {at}",
    },
}


def report_part(
    session: Session, settings: Settings, start: datetime, end: datetime, language: str
) -> Part:
    """The corrections approved, or sent to someone, in [start, end)."""
    words = WORDS[language]
    sent_in_period = select(sending.CorrectionSend.correction_id).where(
        sending.CorrectionSend.at >= start, sending.CorrectionSend.at < end
    )
    corrections = session.execute(
        select(Correction)
        .where(
            Correction.state == APPROVED,
            or_(
                Correction.id.in_(sent_in_period),
                (Correction.reviewed_at >= start) & (Correction.reviewed_at < end),
            ),
        )
        .order_by(Correction.reviewed_at)
    ).scalars()
    rows = []
    for correction in corrections:
        counts: Counter[str] = Counter()
        agents: dict[str, int] = defaultdict(int)
        for outcome, job in session.execute(
            select(sending.CorrectionSend.outcome, sending.CorrectionSend.job).where(
                sending.CorrectionSend.correction_id == correction.id
            )
        ):
            counts[outcome] += 1
            if outcome == sending.SENT and job.startswith("agent:"):
                agents[job] += 1
        by_agent = sum(agents.values())
        approved = words["by"].format(
            name=correction.reviewed_by,
            at=f"{correction.reviewed_at.astimezone(settings.timezone):%d/%m %H:%M}",
        ) + (f" ({words['urgent']})" if correction.urgent else "")
        rows.append(
            [
                f"#{correction.id} {correction.topic}",
                correction.changed,
                approved,
                str(counts[sending.SENT] - by_agent),
                str(by_agent + counts[sending.WITH_AGENT]),
                str(counts[recipients.OUT_OF_WINDOW] + counts[recipients.TEMPLATE]),
                str(counts[recipients.NEVER] + counts[recipients.UNKNOWN]),
                str(counts[sending.FAILED]),
            ]
        )
    return Part(
        key="corrections",
        title=words["title"],
        headings=[
            words[key]
            for key in (
                "correction",
                "changed",
                "approved",
                "sent",
                "by_agent",
                "late",
                "unreachable",
                "failed",
            )
        ],
        rows=rows,
        empty=words["none"],
        text_columns=3,
    )

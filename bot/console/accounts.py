"""Console accounts: who may sign in, with which role, and sign-in throttling.

An admin can disable an account (someone leaves, a password leaks): it can no
longer sign in, its open sessions end at their next request (each session
carries the account's `session_version`, which disabling and every password
change increase), and the conversations it held go back to the queue.

Passwords are hashed with Argon2id (argon2-cffi). Repeated failures slow
sign-in down per account name and per client address: after
`FREE_FAILURES` failures in a row, each further attempt must wait twice as long
as the last (up to `MAX_DELAY`), whatever the password. The counters live in
the database, so every console process applies the same limits, and an
attempt locks its counters' rows until it is recorded, so parallel guesses
are counted one after the other (PostgreSQL's row locks; SQLite has one
writer at a time). The client address is the real one behind a proxy
(bot/console/security.py `client_address`): behind nginx, every sign-in
came from 127.0.0.1, and one stranger's failures locked out the whole team.

Signing out ends every session of the account, on every device (its
`session_version` goes up): a copy of the cookie taken before is worth
nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, Integer, String, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow

ROLES = ("agent", "editor", "admin")
ADMIN = "admin"
# Who may work the handoff queue.
QUEUE_ROLES = frozenset({"agent", "admin"})
# Who may publish the statement and flip the crisis switches.
EDITOR_ROLES = frozenset({"editor", "admin"})
MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 3
MAX_DELAY = timedelta(minutes=5)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A refused account operation; the message says why."""


class Agent(Base):
    __tablename__ = "agent"

    id = Column(Integer, primary_key=True)
    name = Column(String(40), nullable=False, unique=True)
    display_name = Column(String(100), nullable=False)
    role = Column(String(16), nullable=False)
    password_hash = Column(String(255), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    disabled_at = Column(UTCDateTime)
    disabled_by = Column(String(100))
    # Sessions signed in under an older version have ended.
    session_version = Column(Integer, nullable=False, default=0)
    # The console's language this person chose (fr, en); None: the default.
    language = Column(String(2))
    # Auto-assignment (bot/console/assignment.py): taking conversations now,
    # and the languages they answer in ("fr,en").
    available = Column(Boolean, nullable=False, default=False)
    answers_in = Column(String(16), nullable=False, default="fr,en")
    # The teams they belong to (keys of the profile's `teams:`), comma-separated.
    teams = Column(String(200), nullable=False, default="")

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


class SignInThrottle(Base):
    """Consecutive failed sign-ins for one key ("name:alice", "ip:10.0.0.7")."""

    __tablename__ = "sign_in_throttle"

    key = Column(String(200), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(UTCDateTime, nullable=False)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt."""

    agent: Agent | None
    wait: timedelta | None = None  # set when the attempt was refused unchecked
    disabled: bool = False  # the right password, for a closed account


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
        )


CONSOLE_LANGUAGES = ("fr", "en")


def add_agent(
    *,
    session: Session,
    name: str,
    role: str,
    password: str,
    display_name: str = "",
    language: str | None = None,
) -> Agent:
    """Creates an account; the name is lower-case letters, digits, . _ -"""
    name = name.strip().lower()
    if not _NAME.match(name):
        raise AccountError(
            f"{name!r} is not a valid name: 2 to 40 lower-case letters, digits, "
            "'.', '_' or '-'."
        )
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    validate_password(password)
    if find_agent(session=session, name=name) is not None:
        raise AccountError(f"There is already an account named {name}.")
    agent = Agent(
        name=name,
        display_name=display_name.strip() or name,
        role=role,
        password_hash=_hasher.hash(password),
        created_at=utcnow(),
        language=language if language in CONSOLE_LANGUAGES else None,
    )
    session.add(agent)
    session.flush()
    return agent


def set_language(*, session: Session, name: str, language: str) -> Agent:
    """The language the console speaks to this account."""
    if language not in CONSOLE_LANGUAGES:
        raise AccountError(f"The console speaks {' or '.join(CONSOLE_LANGUAGES)}.")
    agent = find_agent(session=session, name=name)
    if agent is None:
        raise AccountError(f"There is no account named {name}.")
    agent.language = language
    session.flush()
    return agent


def set_password(*, session: Session, name: str, password: str) -> Agent:
    agent = find_agent(session=session, name=name)
    if agent is None:
        raise AccountError(f"There is no account named {name}.")
    validate_password(password)
    agent.password_hash = _hasher.hash(password)
    agent.session_version += 1  # whoever knew the old one is signed out
    return agent


def disable(*, session: Session, name: str, by: str) -> tuple[Agent, int]:
    """Closes an account: no sign-in, every session ended, its conversations
    back in the queue. Returns the account and how many went back."""
    from bot.handoff.queue import release_all  # the queue knows tickets

    agent = find_agent(session=session, name=name)
    if agent is None:
        raise AccountError(f"There is no account named {name}.")
    if agent.name == by.strip().lower():
        raise AccountError("You cannot disable your own account.")
    if agent.is_disabled:
        return agent, 0
    agent.disabled_at, agent.disabled_by = utcnow(), by
    agent.session_version += 1
    returned = release_all(session=session, agent=agent.name)
    session.flush()
    return agent, returned


def enable(*, session: Session, name: str) -> Agent:
    """Opens a disabled account again (with the password it had)."""
    agent = find_agent(session=session, name=name)
    if agent is None:
        raise AccountError(f"There is no account named {name}.")
    agent.disabled_at, agent.disabled_by = None, None
    session.flush()
    return agent


def find_agent(*, session: Session, name: str) -> Agent | None:
    return session.execute(
        select(Agent).where(Agent.name == name.strip().lower())
    ).scalar_one_or_none()


def teams_of(agent: Agent | None) -> tuple[str, ...]:
    """The teams an account belongs to (none for a name without an account)."""
    if agent is None:
        return ()
    return tuple(team for team in agent.teams.split(",") if team)


def set_skills(
    *, session: Session, name: str, teams: list[str], answers_in: list[str],
    known_teams: list[str],
) -> Agent:  # fmt: skip
    """Sets the teams an account is in and the languages it answers in
    (auto-assignment and "Take next" follow them)."""
    agent = find_agent(session=session, name=name)
    if agent is None:
        raise AccountError(f"No account {name!r}.")
    unknown = sorted(set(teams) - set(known_teams))
    if unknown:
        raise AccountError(f"No team {unknown[0]!r} in this crisis' profile.")
    languages = [language for language in ("fr", "en") if language in answers_in]
    if not languages:
        raise AccountError(f"{name} must answer in French, English or both.")
    agent.teams = ",".join(team for team in known_teams if team in teams)
    agent.answers_in = ",".join(languages)
    session.flush()
    return agent


def list_agents(*, session: Session) -> list[Agent]:
    return list(session.execute(select(Agent).order_by(Agent.name)).scalars())


def display_names(*, session: Session) -> dict[str, str]:
    """Account name -> the name the team knows them by."""
    return {agent.name: agent.display_name for agent in list_agents(session=session)}


def _delay(failures: int) -> timedelta:
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(MAX_DELAY, timedelta(seconds=2 ** (failures - FREE_FAILURES)))


def _lock_counters(
    session: Session, keys: list[str], now: datetime
) -> list[SignInThrottle]:
    """The attempt's counters, created if missing and locked until the
    caller's transaction ends: a parallel attempt on the same name or address
    waits here and then sees this one's outcome."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql_insert if postgresql else sqlite_insert
    for key in keys:
        # On SQLite this first write takes the database's only write lock.
        session.execute(
            insert(SignInThrottle)
            .values(key=key, failures=0, last_failure_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
    return list(
        session.execute(
            select(SignInThrottle)
            .where(SignInThrottle.key.in_(keys))
            .order_by(SignInThrottle.key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )


def _wait(rows: list[SignInThrottle], now: datetime) -> timedelta | None:
    longest = timedelta(0)
    for row in rows:
        longest = max(longest, row.last_failure_at + _delay(row.failures) - now)
    return longest if longest > timedelta(0) else None


def sign_in(
    *,
    session: Session,
    name: str,
    password: str,
    client: str,
    now: datetime | None = None,
) -> SignIn:
    """Checks a name and password, unless recent failures say to wait first.

    Unknown names cost the same hashing time as known ones, so timing does not
    tell which accounts exist.
    """
    now = now or utcnow()
    name = name.strip().lower()
    keys = [f"name:{name}"[:200], f"ip:{client}"[:200]]
    counters = _lock_counters(session, keys, now)
    wait = _wait(counters, now)
    if wait is not None:
        return SignIn(agent=None, wait=wait)
    agent = find_agent(session=session, name=name)
    try:
        _hasher.verify(agent.password_hash if agent else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        for row in counters:
            row.failures += 1
            row.last_failure_at = now
        session.flush()
        return SignIn(agent=None)
    if agent is None:  # the dummy hash never verifies; kept for clarity
        return SignIn(agent=None)
    if agent.is_disabled:
        return SignIn(agent=None, disabled=True)
    for row in counters:
        session.delete(row)
    if _hasher.check_needs_rehash(agent.password_hash):
        agent.password_hash = _hasher.hash(password)
    return SignIn(agent=agent)


_DUMMY_HASH = _hasher.hash("not a password anybody has")


def sign_out_everywhere(*, session: Session, name: str) -> None:
    """Ends every session of the account (its cookies, copies included)."""
    agent = find_agent(session=session, name=name)
    if agent is not None:
        agent.session_version += 1
        session.flush()

"""Console accounts: passwords and slowing down repeated failed sign-ins."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bot.console import accounts
from bot.db import get_session_factory, upgrade
from bot.handoff.models import utcnow
from tests.conftest import postgres_database

PASSWORD = "correct horse battery"


@pytest.fixture
def factory(database_url: str):  # type: ignore[no-untyped-def]
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        accounts.add_agent(
            session=session, name="alice", role="agent", password=PASSWORD
        )
    return factory


def attempt(factory, password: str, now, name: str = "alice", client: str = "1.2.3.4"):  # type: ignore[no-untyped-def]
    with factory.begin() as session:
        result = accounts.sign_in(
            session=session, name=name, password=password, client=client, now=now
        )
        return (result.agent.name if result.agent else None), result.wait


def test_the_right_password_signs_in_and_the_hash_is_not_the_password(factory) -> None:  # type: ignore[no-untyped-def]
    assert attempt(factory, PASSWORD, utcnow()) == ("alice", None)
    assert attempt(factory, PASSWORD.upper(), utcnow())[0] is None
    with factory.begin() as session:
        stored = accounts.find_agent(session=session, name="alice").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_failures_slow_down_sign_in_even_with_the_right_password(factory) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    for _ in range(accounts.FREE_FAILURES):
        assert attempt(factory, "wrong password", now) == (None, None)
    # Now every attempt must wait, the right password included.
    name, wait = attempt(factory, PASSWORD, now)
    assert name is None and wait == timedelta(seconds=1)
    # From another address the account itself is still throttled.
    assert attempt(factory, PASSWORD, now, client="5.6.7.8")[1] is not None
    assert attempt(factory, "wrong password", now + timedelta(seconds=1)) == (
        None,
        None,
    )
    assert attempt(factory, PASSWORD, now + timedelta(seconds=2))[1] == timedelta(
        seconds=1
    )  # the wait doubled after one more failure
    later = now + timedelta(seconds=3)
    assert attempt(factory, PASSWORD, later) == ("alice", None)
    # Success clears the counters.
    assert attempt(factory, "wrong password", later) == (None, None)
    assert attempt(factory, PASSWORD, later) == ("alice", None)


def test_unknown_names_fail_like_wrong_passwords(factory) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    assert attempt(factory, PASSWORD, now, name="mallory") == (None, None)
    for _ in range(accounts.FREE_FAILURES):
        attempt(factory, PASSWORD, now, name="mallory")
    # Guessing names from one address throttles that address.
    assert attempt(factory, PASSWORD, now, name="alice")[1] is not None


def test_parallel_guesses_are_counted_one_after_the_other() -> None:
    """Issue 26: on PostgreSQL, 30 guesses at once got 17 password checks
    where 3 were allowed, and one 500. Each attempt now waits for the
    previous one's outcome on its counters."""
    with postgres_database() as url:
        upgrade(url)
        factory = get_session_factory(url)
        with factory.begin() as session:
            accounts.add_agent(
                session=session, name="alice", role="agent", password=PASSWORD
            )
        now = utcnow()  # one instant: no wait runs out during the test
        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(
                pool.map(
                    lambda i: attempt(factory, f"guess {i}", now, client=f"10.0.0.{i}"),
                    range(30),
                )
            )
        checked = [wait for _, wait in outcomes if wait is None]
        assert len(checked) == accounts.FREE_FAILURES
        assert all(name is None for name, _ in outcomes)

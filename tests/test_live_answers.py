"""Answers are read from the pack's faq/ when they are sent: edits are live at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq, ActionClarify
from bot.cli import main
from bot.db import get_session_factory
from bot.faq.audit import answers_sent
from bot.faq.live import files_pack, version
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import load_tracker


@pytest.fixture
def faq_dir(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    folder = tmp_path / "pack" / "faq"
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    return folder


async def answer(tracker_name: str = "faq_question_fr", **changes) -> list[dict]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, load_tracker(tracker_name, **changes), {})
    return dispatcher.messages


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_an_edited_answer_goes_out_on_the_next_message(faq_dir: Path) -> None:
    before = (await answer())[0]["text"]
    assert before.startswith("Les lots concernés vont de L26304 à L26318")
    replace_in(faq_dir / "lot_numbers.yml", "vont de L26304 à L26318",
               "vont de L26304 à L26321")  # fmt: skip
    after = (await answer())[0]["text"]
    assert after.startswith("Les lots concernés vont de L26304 à L26321")


async def test_every_answer_sent_is_recorded_with_its_version(
    faq_dir: Path, database_url: str
) -> None:
    first = (await answer())[0]["text"]
    replace_in(faq_dir / "lot_numbers.yml", "L26318", "L26321")
    second = (await answer(sender_id="someone-else"))[0]["text"]
    with get_session_factory(database_url).begin() as session:
        rows = answers_sent(session=session, topic="lot_numbers")
        assert [(r.conversation_id, r.version, r.language) for r in rows] == [
            ("someone-else", version(second), "fr"),
            ("visitor-fr", version(first), "fr"),
        ]
        assert rows[0].text == second


async def test_a_disabled_topic_is_not_answered(faq_dir: Path) -> None:
    replace_in(faq_dir / "lot_numbers.yml", "enabled: true", "enabled: false")
    gate = {"answer": True, "candidates": ["lot_numbers", "affected_products"]}
    messages = await answer(latest_message={"gate": gate})
    assert [m["response"] for m in messages] == ["utter_clarify"]
    titles = [button["title"] for button in messages[0]["buttons"]]
    assert titles == ["Produits concernés", "Autre chose : parler à un conseiller"]
    # Nor offered as a "did you mean" button.
    dispatcher = CollectingDispatcher()
    unsure = load_tracker("unsure_en", latest_message={"gate": {
        "answer": False, "reason": "unsure_faq",
        "candidates": ["lot_numbers", "refund"]}})  # fmt: skip
    await ActionClarify().run(dispatcher, unsure, {})
    titles = [button["title"] for button in dispatcher.messages[0]["buttons"]]
    assert titles == ["Refunds", "Something else: talk to an agent"]


async def test_a_broken_save_keeps_the_last_good_answer(faq_dir: Path) -> None:
    good = (await answer())[0]["text"]
    (faq_dir / "lot_numbers.yml").write_text("nlu: [half a save", encoding="utf-8")
    assert (await answer())[0]["text"] == good
    assert "lot_numbers" in files_pack(faq_dir)


async def test_editors_query_the_trail_from_the_command_line(
    faq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["faq", "log"]) == 0
    assert capsys.readouterr().out.strip() == "No answer recorded yet."
    text = (await answer())[0]["text"]
    assert main(["faq", "log", "--topic", "lot_numbers"]) == 0
    out = capsys.readouterr().out
    assert f"lot_numbers          fr  v{version(text)}  visitor-fr" in out

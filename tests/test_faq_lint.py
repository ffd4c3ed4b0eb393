"""`relais faq lint` on the shipped pack and on packs an editor broke."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.faq.lint import ERROR, WARNING, lint_pack
from bot.faq.pack import parse_examples
from bot.settings import PROJECT_ROOT

FAQ_DIR = PROJECT_ROOT / "packs" / "dairy-recall" / "faq"


def pack(tmp_path: Path, *topics: str) -> Path:
    folder = tmp_path / "faq"
    folder.mkdir()
    for topic in topics:
        shutil.copy(FAQ_DIR / f"{topic}.yml", folder)
    return folder


def edit(folder: Path, topic: str, old: str, new: str) -> None:
    path = folder / f"{topic}.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def messages(findings: list, level: str) -> list[str]:
    return [f"{f.topic}: {f.message}" for f in findings if f.level == level]


def test_the_shipped_pack_has_no_error() -> None:
    findings = lint_pack(FAQ_DIR, today=date(2026, 11, 27))
    assert messages(findings, ERROR) == []


def test_what_an_editor_can_break(tmp_path: Path) -> None:
    folder = pack(tmp_path, "refund", "compensation", "contact")
    # An example copied into another topic (case and punctuation aside).
    copied = "    - je veux être indemnisé\n    - Comment me faire rembourser\n"
    edit(folder, "compensation", "    - je veux être indemnisé\n", copied)
    # The English block removed, the owner forgotten, an old review date.
    text = (folder / "contact.yml").read_text(encoding="utf-8")
    english = text.index("- intent: faq/contact\n  metadata:\n    lang: en")
    responses = text.index("responses:")
    (folder / "contact.yml").write_text(text[:english] + text[responses:], "utf-8")
    edit(folder, "contact", "    owner: service.consommateurs@montval.fr\n", "")
    edit(folder, "refund", "review_by: 2026-12-15", "review_by: 2026-11-01")
    # An answer too long for Messenger.
    edit(folder, "refund", "Nous sommes désolés pour ce désagrément.",
         "Nous sommes désolés pour ce désagrément. " + "Détails. " * 250)  # fmt: skip

    findings = lint_pack(folder, today=date(2026, 11, 27))
    errors = messages(findings, ERROR)
    assert (
        "refund: “comment me faire rembourser ?” is also an example of compensation"
        in errors
    )
    assert "contact: no en examples" in errors
    assert "contact: no en title" in errors
    assert "contact: no owner (who answers for this content?)" in errors
    assert any(
        e.startswith("refund: fr answer has") and "Messenger" in e for e in errors
    )
    warnings = messages(findings, WARNING)
    assert "refund: review_by 2026-11-01 has passed: check the facts" in warnings
    # Errors come first in the report.
    assert [f.level for f in findings] == sorted(
        (f.level for f in findings), key=lambda level: level != ERROR
    )


def test_examples_that_mean_the_same_under_two_topics_are_named(
    tmp_path: Path,
) -> None:
    """An editor files a refund question under compensation: the lint names
    both topics. Close words with another meaning are not flagged: being
    compensated for being ill is not a refund of the cheese."""
    folder = pack(tmp_path, "refund", "compensation")

    def close(findings: list) -> list[str]:
        return [w for w in messages(findings, WARNING) if "is very close" in w]

    assert close(lint_pack(folder, today=date(2026, 11, 27))) == []
    edit(
        folder, "compensation", "    - je veux être indemnisé\n",
        "    - je veux être indemnisé\n    - comment obtenir le remboursement ?\n",
    )  # fmt: skip
    warnings = close(lint_pack(folder, today=date(2026, 11, 27)))
    assert warnings, "the refund question under compensation was not flagged"
    assert all(
        w.startswith("compensation: “comment obtenir le remboursement ?” is very close")
        and "(refund, similarity" in w
        for w in warnings
    ), warnings


def test_a_file_that_does_not_parse_is_named(tmp_path: Path) -> None:
    folder = pack(tmp_path, "refund")
    (folder / "broken.yml").write_text("nlu: [unclosed", encoding="utf-8")
    edit(folder, "refund", "enabled: true", "enabled: maybe")
    errors = messages(lint_pack(folder), ERROR)
    assert any(e.startswith("broken: broken.yml: not valid YAML") for e in errors)
    assert "refund: refund.yml: enabled must be true or false, not 'maybe'" in errors


def test_the_command_exits_non_zero_on_errors_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["faq", "lint"]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    folder = pack(tmp_path, "refund")
    edit(folder, "refund", "    title: Refunds\n", "")
    assert main(["faq", "lint", "--dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "error   refund: no en title" in out
    assert "Fix the errors before publishing." in out


def test_a_pack_written_at_hour_one_is_warned_not_refused(tmp_path: Path) -> None:
    """One question and two rephrasings per topic: published, with a warning."""
    folder = pack(tmp_path, *(path.stem for path in FAQ_DIR.glob("*.yml")))
    for path in folder.glob("*.yml"):
        content = yaml.safe_load(path.read_text("utf-8"))
        for block in content["nlu"]:
            kept = parse_examples(block["examples"])[:3]
            block["examples"] = "".join(f"- {text}\n" for text in kept)
        path.write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")
    findings = lint_pack(folder, today=date(2026, 11, 27))
    assert messages(findings, ERROR) == []
    assert (
        "refund: 3 fr examples: with 8 or more, more questions get a direct "
        "answer (add the phrasings people use)" in messages(findings, WARNING)
    )


def test_an_editor_is_told_what_to_expect_and_where_to_add_phrasings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three phrasings per topic: the lint says how many questions the
    calibration answered directly at that size, and names the topics whose
    examples are closest to another topic's."""
    from bot.faq.expectations import expect
    from bot.faq.pack import load_pack
    from bot.nlu.calibration import limits_for

    folder = pack(tmp_path, "refund", "refund_no_receipt", "lot_numbers")
    for path in folder.glob("*.yml"):
        content = yaml.safe_load(path.read_text("utf-8"))
        for block in content["nlu"]:
            kept = parse_examples(block["examples"])[:3]
            if path.stem == "refund" and block["metadata"]["lang"] == "fr":
                # Written as the receipt topic's examples are.
                kept.append("je veux un remboursement sans mon ticket de caisse")
            block["examples"] = "".join(f"- {text}\n" for text in kept)
        path.write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")
    expectation = expect(list(load_pack(folder).values()))
    assert expectation.phrasings == 3
    assert expectation.answered == limits_for(3).expected_right
    first = expectation.confused[0]
    assert {first.topic, first.other} == {"refund", "refund_no_receipt"}
    assert main(["faq", "lint", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    expected = f"expect about {limits_for(3).expected_right:.0%} of questions"
    assert expected in out
    assert f"Most often confused: {first.topic} (" in out

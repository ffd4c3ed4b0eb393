"""The CSV round trip editors use instead of YAML."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.faq.pack import parse_topic_file
from bot.faq.spreadsheet import COLUMNS, SpreadsheetError, export_csv, import_csv
from bot.settings import PROJECT_ROOT

FAQ_DIR = PROJECT_ROOT / "packs" / "dairy-recall" / "faq"


@pytest.fixture
def faq_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "faq"
    shutil.copytree(FAQ_DIR, folder)
    return folder


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, table: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.yml"))}


def test_export_then_import_gives_the_same_pack(faq_copy: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "faq.csv"
    assert export_csv(FAQ_DIR, sheet) == len(list(FAQ_DIR.glob("*.yml")))
    import_csv(sheet, faq_copy)
    for path in sorted(FAQ_DIR.glob("*.yml")):
        assert parse_topic_file(faq_copy / path.name) == parse_topic_file(path)


def test_an_edited_answer_and_a_new_topic_arrive(
    faq_copy: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "faq.csv"
    export_csv(faq_copy, sheet)
    table = rows(sheet)
    refund_fr = next(
        r for r in table if (r["topic"], r["language"]) == ("refund", "fr")
    )
    refund_fr["answer"] = "Nouvelle réponse : remboursement jusqu'au 28 février 2027."
    new = {
        "topic": "recall_end",
        "language": "fr",
        "title": "Fin du rappel",
        "owner": "com@montval.fr",
        "review_by": "2026-12-31",
        "enabled": "non",
        "answer": "Le rappel se termine le 28 février 2027.",
        "examples": "\n".join(f"quand finit le rappel {i}" for i in range(8)),
    }
    new_en = {
        **new,
        "language": "en",
        "title": "End of the recall",
        "owner": "",
        "review_by": "",
        "enabled": "",
        "answer": "The recall ends on 28 February 2027.",
        "examples": "\n".join(f"when does the recall end {i}" for i in range(5)),
    }
    refund_en = next(
        r for r in table if (r["topic"], r["language"]) == ("refund", "en")
    )
    # Only the rows of the topics to change: the others stay as they are.
    write(sheet, [refund_fr, refund_en, new, new_en])
    assert sorted(import_csv(sheet, faq_copy)) == ["recall_end", "refund"]
    refund = parse_topic_file(faq_copy / "refund.yml")
    assert refund.answers["fr"].startswith("Nouvelle réponse")
    assert (
        refund.answers["en"] == parse_topic_file(FAQ_DIR / "refund.yml").answers["en"]
    )
    added = parse_topic_file(faq_copy / "recall_end.yml")
    assert (added.enabled, added.owner, str(added.review_by)) == (
        False, "com@montval.fr", "2026-12-31"
    )  # fmt: skip


def test_bad_rows_are_named_and_nothing_is_written(
    faq_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "faq.csv"
    export_csv(faq_copy, sheet)
    table = rows(sheet)
    table[0]["review_by"] = "31/12/2026"
    table[1]["answer"] = ""
    table[2]["language"] = "de"
    table[4]["answer"] = "Réponse modifiée qui ne doit pas être écrite."
    write(sheet, table)
    before = snapshot(faq_copy)
    with pytest.raises(SpreadsheetError) as error:
        import_csv(sheet, faq_copy)
    assert error.value.problems == [
        "row 2: review_by '31/12/2026' is not a date (write it 2026-12-31)",
        "row 3: answer is empty",
        "row 4: language must be fr or en, not 'de'",
        f"topic {table[2]['topic']}: no fr row",
    ]
    assert snapshot(faq_copy) == before
    # The command says the same, in one place, with a non-zero exit.
    assert main(["faq", "import", str(sheet), "--dir", str(faq_copy)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Nothing was written. Fix these in faq.csv:")
    assert "  row 3: answer is empty" in err


def test_a_pack_the_linter_refuses_is_not_written(
    faq_copy: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "faq.csv"
    export_csv(faq_copy, sheet)
    table = rows(sheet)
    en = next(r for r in table if (r["topic"], r["language"]) == ("refund", "en"))
    en["examples"] = "how do i get a refund?\nwhat is the faisselle?"
    other = next(r for r in table if r["topic"] != "refund" and r["language"] == "en")
    other["examples"] += "\nwhat is the faisselle?"  # one example, two topics
    write(sheet, table)
    before = snapshot(faq_copy)
    with pytest.raises(SpreadsheetError) as error:
        import_csv(sheet, faq_copy)
    assert [p for p in error.value.problems if p.startswith("error")] == [
        f"error   refund: “what is the faisselle?” is also an example of "
        f"{other['topic']}"
    ]
    assert snapshot(faq_copy) == before


def test_wrong_files_get_a_clear_message(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("topic;langue\nremboursement;français\n".encode("latin-1"))
    with pytest.raises(SpreadsheetError, match="not UTF-8 text; save the spreadsheet"):
        import_csv(latin, tmp_path)
    columns = tmp_path / "columns.csv"
    columns.write_text("topic,language\nrefund,fr\n", encoding="utf-8")
    with pytest.raises(SpreadsheetError, match="row 1: missing column"):
        import_csv(columns, tmp_path)

"""`relais train`: the model of a pack, trained once per distinct inputs.

    relais train [--pack DIR] [--out models/relais.tar.gz] [--force]

`make train` runs it. When a model was already trained from exactly these
inputs (bot/publish/cache.py), it is copied instead of trained again; else
the pack is linted, the data validated, and `rasa train` runs. Nothing here
touches a running Rasa: `relais publish` does that, with its checks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.publish.training import Project, TrainingError, trained_model
from bot.settings import PROJECT_ROOT, model_cache_from, pack_dir_from_environment


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train the pack's model, or reuse the one trained from the same inputs",
    )
    parser.add_argument("--pack", help="the pack's folder (default: RELAIS_PACK)")
    parser.add_argument(
        "--out",
        default="models/relais.tar.gz",
        help="where the model goes (default: models/relais.tar.gz)",
    )
    parser.add_argument(
        "--force", action="store_true", help="train even when the cache has it"
    )


def _path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


def run(args: argparse.Namespace) -> int:
    pack_dir = pack_dir_from_environment()  # loads .env too
    if args.pack:
        pack_dir = _path(args.pack)
    if not (pack_dir / "faq").is_dir():
        print(f"{pack_dir} is not a pack: it has no faq/ folder.", file=sys.stderr)
        return 2
    target = _path(args.out)
    if not target.name.endswith(".tar.gz"):
        print(f"--out must name a .tar.gz file, not {args.out!r}.", file=sys.stderr)
        return 2
    project = Project(PROJECT_ROOT, pack_dir, model_cache_from(os.environ))
    print(f"Model of {pack_dir} -> {target}", flush=True)
    try:
        trained = trained_model(project, target, force=args.force, check=True)
    except TrainingError as error:
        print(error, file=sys.stderr)
        return 1
    if trained.reused_from is not None:
        print(
            f"Reused the model trained from exactly these inputs on "
            f"{trained.reused_from.astimezone():%Y-%m-%d %H:%M} "
            f"(cache: {project.cache.root}); `relais train --force` trains again."
        )
    else:
        print(f"Trained in {trained.seconds:.0f} s; kept in {project.cache.root}.")
    return 0

"""``runs``: list the run cache, show a run's card, reproduce a run, or clear (stale) runs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd

from explorer import reproduction, runs
from explorer.cli.common import Bar
from explorer.errors import ParameterError
from explorer.models import model_class, model_names


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "runs",
        help="list the run cache, show a run's card, reproduce a run, or clear runs",
        description="list: the cached runs (stale ones marked); show KEY: the run card; reproduce KEY: retrain "
        "in a scratch cache and compare; clear: delete runs (--stale: only those made by other code).",
    )
    parser.add_argument("action", choices=["list", "show", "reproduce", "clear"])
    parser.add_argument("key", nargs="?", help="the run's key (show, reproduce); `runs list` shows the keys")
    parser.add_argument("--model", choices=model_names(), help="only this model's runs (list, clear)")
    parser.add_argument("--stale", action="store_true", help="clear only stale runs (made by other code)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text (list, show, reproduce)")
    parser.add_argument("--data-dir", help="reproduce: the data set's folder, if it moved since the run")


def run(args: argparse.Namespace, started: float) -> None:  # noqa: ARG001 - every command's signature
    if args.action in ("show", "reproduce") and not args.key:
        raise ParameterError(f"`runs {args.action}` needs a run's key; `python -m explorer runs list` shows them.")
    if args.action == "list":
        print_listing(runs.table(), args.model, args.json)
    elif args.action == "show":
        print_card(reproduction.card(args.key), args.json)
    elif args.action == "reproduce":
        bar = Bar(f"reproducing {args.key}", not args.quiet)
        try:
            result = reproduction.reproduce(args.key, data_dir=args.data_dir, progress=bar)
        finally:
            bar.close()
        print(json.dumps(result, indent=1) if args.json else result["verdict"])
    else:
        removed = runs.clear(model=args.model, stale=args.stale)
        print(f"deleted {removed} {'stale ' if args.stale else ''}cached runs from {runs.cache_dir()}")


def changed_params(model: str, params: dict[str, Any], year: int) -> str:
    """``k=16, reg=1.0``: the hyperparameters that differ from the model's defaults for ``year``."""
    try:
        defaults = model_class(model).defaults_for(year)
    except ParameterError:
        defaults = {}
    return ", ".join(f"{k}={v}" for k, v in params.items() if defaults.get(k) != v) or "defaults"


def listing_rows(table: pd.DataFrame, model: str | None) -> pd.DataFrame:
    """The cache table filtered to ``model`` and sorted by model (registry order), then year."""
    if model is not None:
        table = table[table["model"] == model]
    order = {name: index for index, name in enumerate(model_names())}
    ranked = table.assign(_order=table["model"].map(lambda m: order.get(m, len(order))))
    return ranked.sort_values(["_order", "model", "year", "created"], kind="stable").drop(columns="_order")


def print_listing(table: pd.DataFrame, model: str | None, as_json: bool) -> None:
    rows = listing_rows(table, model)
    if as_json:
        found = [
            {
                **{name: row[name] for name in ("key", "model", "year")},
                "params": json.loads(row["params"]),
                "seed": None if pd.isna(row["seed"]) else int(row["seed"]),
                "device": row["device"],
                "stale": bool(row["stale"]),
                "status": row["status"],
                "stale_because": row["stale_because"],
                "recall@10": float(row["recall@10"]),
                "mrr": float(row["mrr"]),
                "fit_seconds": float(row["fit_seconds"]),
                "data": row["data"],
                "synthetic": bool(row["synthetic"]),
                "created": row["created"],
            }
            for _, row in rows.iterrows()
        ]
        print(json.dumps(found, indent=1, default=int))
        return
    if rows.empty:
        which = f" of {model}" if model else ""
        print(f"no cached runs{which} in {runs.cache_dir()}")
        return
    shown = pd.DataFrame(
        {
            "model": rows["model"],
            "year": rows["year"],
            "key": rows["key"],
            "params": [
                changed_params(m, json.loads(p), y)
                for m, p, y in zip(rows["model"], rows["params"], rows["year"], strict=True)
            ],
            "R@10": rows["recall@10"].map("{:.4f}".format),
            "MRR": rows["mrr"].map("{:.4f}".format),
            "trained": rows["created"].str.slice(0, 10),
            "": rows["status"].where(rows["status"] != "current", ""),
        }
    )
    print(text_table(shown))
    stale = int(rows["stale"].sum())
    if stale:
        print(
            f"\n{stale} stale run(s): made by other code or library versions, never served; "
            "`python -m explorer runs clear --stale` deletes them."
        )


def text_table(frame: pd.DataFrame) -> str:
    """Left-aligned columns separated by two spaces (numbers as already formatted), trailing blanks removed."""
    cells = [list(map(str, frame.columns))] + [[str(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(frame.columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def print_card(card: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(card, indent=1))
        return
    git = card["git"]
    lines = [
        f"run {card['key']}: {card['model']} {card['year']}" + (f"  [{card['status']}]" if card["stale"] else ""),
        f"  params      {', '.join(f'{k}={v}' for k, v in card['params'].items()) or 'none'}",
        f"  seed        {card['seed'] if card['seed'] is not None else 'none (the model has no random state)'}",
        f"  device      {card['device']}",
        f"  data        {card['data']['fingerprint']} at {card['data']['path']}"
        + (" (synthetic demo data)" if card["data"].get("synthetic") else ""),
        f"  code        {card['code']['fingerprint']} over {len(card['code']['files'])} files",
        *(f"                {name}" for name in card["code"]["files"]),
        f"  versions    {', '.join(f'{k} {v}' for k, v in card['versions'].items())}",
        f"  python      {card['python']}",
        "  git         "
        + ("not a git checkout" if not git else git["commit"] + (" with uncommitted changes" if git["dirty"] else "")),
        f"  created     {card['created']}",
        f"  fit         {card['fit_seconds']:.2f} s" if card["fit_seconds"] is not None else "  fit         ?",
        f"  R@10, MRR   {card['metrics']['recall@10']:.4f}, {card['metrics']['mrr']:.4f}",
        f"  re-create   {card['command']}",
        f"  check       {card['reproduce']}",
    ]
    if card["stale"]:
        lines.append(f"  stale       {card['stale_because']}")
    print("\n".join(lines), file=sys.stdout)

"""``teiten rules check FILE...``: what compiles, what is skipped and why."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from teiten.signatures.addresses import Variables
from teiten.signatures.loader import load_rules


def register(sub: Any) -> None:
    """Add the ``rules`` sub-command."""
    p: argparse.ArgumentParser = sub.add_parser("rules", help="check Suricata/Snort rule files")
    rsub = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    chk = rsub.add_parser("check", help="compile rule files and list what is skipped and why")
    chk.add_argument("files", nargs="*", type=Path, metavar="FILE")
    chk.add_argument("--bundled", action="store_true", help="also check the bundled rules")
    chk.add_argument("--vars", type=Path, help="TOML/YAML rule variables (address/port groups)")
    chk.add_argument("--home-net", action="append", default=[], metavar="CIDR",
                     help="$HOME_NET (repeatable; default any)")
    chk.add_argument("--list", action="store_true", help="list every skipped rule")
    chk.add_argument("--format", choices=["text", "json"], default="text")
    chk.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Print the summary; exit 0 even when rules are skipped (skips are reported, not fatal)."""
    var = Variables.defaults(args.home_net)
    if args.vars:
        var = var.merged(Variables.load(args.vars))
    rs = load_rules(args.files, variables=var, bundled=args.bundled or not args.files)
    s = rs.summary()
    if args.format == "json":
        s["skipped_rules"] = [str(k) for k in rs.skipped]
        print(json.dumps(s, indent=1))
        return 0
    nsrc = len(rs.sources)
    print(f"rules: {len(rs.rules) + len(rs.skipped)} parsed from {nsrc} file(s); "
          f"{s['compiled']} compiled, {s['skipped']} skipped "
          f"({s['skipped_unsupported']} unsupported, {s['skipped_syntax']} syntax errors), "
          f"{s['disabled']} commented out")
    print(f"content rules: {s['content_rules']}; decided on the stored payload prefix but may "
          f"need bytes beyond 512: {s['cap_sensitive']}")
    reasons: dict[str, int] = s["reasons"]  # type: ignore[assignment]
    if reasons:
        print("skipped, by reason:")
        for reason, n in reasons.items():
            print(f"  {n:6d}  {reason}")
    if args.list:
        for k in rs.skipped:
            print(f"  {k}")
    elif rs.skipped:
        syntax = [k for k in rs.skipped if k.kind == "syntax"]
        for k in syntax[:20]:
            print(f"  {k}")
        if len(syntax) > 20:
            print(f"  ... {len(syntax) - 20} more syntax errors (--list shows all)")
    return 0

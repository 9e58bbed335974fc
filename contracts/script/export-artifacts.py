#!/usr/bin/env python3
"""Copies abi + bytecode of the contracts Rust binds from forge's out/ into services/chain/abi/.

Usage: export-artifacts.py            write the files
       export-artifacts.py --check    exit 1 if a committed file differs from a fresh build
Only abi, bytecode and deployedBytecode are kept: they are what alloy's sol! needs, and they do
not depend on the machine (bytecode_hash = "none" in foundry.toml keeps paths out of it).
"""
import json, pathlib, sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "contracts" / "out"
DEST = ROOT / "services" / "chain" / "abi"
CONTRACTS = ["TestStablecoin", "PayoutRouter", "InvoicePayments", "TestYieldVault"]

def render(name):
    art = json.loads((OUT / f"{name}.sol" / f"{name}.json").read_text())
    # Source maps are left out: their source indices change with compile order.
    keep = {
        "abi": art["abi"],
        "bytecode": {"object": art["bytecode"]["object"]},
        "deployedBytecode": {"object": art["deployedBytecode"]["object"]},
    }
    return json.dumps(keep, indent=1, sort_keys=True) + "\n"

check = "--check" in sys.argv
stale = []
for name in CONTRACTS:
    fresh = render(name)
    path = DEST / f"{name}.json"
    if check:
        if not path.exists() or path.read_text() != fresh:
            stale.append(str(path.relative_to(ROOT)))
    else:
        path.write_text(fresh)
if stale:
    print("stale contract artifacts (run contracts/script/export-artifacts.py and commit):", *stale, sep="\n  ")
    sys.exit(1)
print("contract artifacts", "are fresh" if check else "written", f"({len(CONTRACTS)})")

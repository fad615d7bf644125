"""Reads a rankdistil export's files as `rankdistil score` and `recommend` do: each file once,
checked against the SHA-256 its config.json records, so a config and weights from two different
exports (one replaced while being read) are refused instead of scored."""

import hashlib
import json
import sys


def read_config(export_dir):
    with open(f"{export_dir}/config.json", encoding="utf-8") as f:
        return json.load(f)


def read_verified(export_dir, config, name):
    """The bytes of the export's file `name`, or exit with one line when they do not match."""
    expected = config.get("sha256", {}).get(name)
    path = f"{export_dir}/config.json"
    if expected is None:
        sys.exit(f"{path}: records no sha256 digest of {name} (written by an older rankdistil, or edited); export it again")
    with open(f"{export_dir}/{name}", "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != expected:
        sys.exit(f"{path}: {name} does not match the digest this config records; the weights and the config come from different exports (replaced while being read?); read it again, or export again")
    return data

"""Reads a rankdistil export's files as `rankdistil score` and `recommend` do: each file once,
checked against the SHA-256 its config.json records, so a config and weights from two different
exports (one replaced while being read) are refused instead of scored."""

import hashlib
import json
import os
import sys

REQUIREMENTS = "pip install -r scripts/requirements.txt"


def missing(script, error):
    """Exits with one line naming the package an import could not find."""
    sys.exit(f"{os.path.basename(script)}: needs the Python package {error.name}; {REQUIREMENTS}")


def one_line_errors(script, main):
    """Runs `main`, turning a missing or unreadable file and malformed input into one line."""
    name = os.path.basename(script)
    try:
        main()
    except OSError as e:
        where = e.filename or name
        sys.exit(f"{where}: {e.strerror or e}")
    except (ValueError, KeyError, IndexError) as e:
        sys.exit(f"{name}: {type(e).__name__}: {e}")


def read_config(export_dir):
    path = f"{export_dir}/config.json"
    if not os.path.isdir(export_dir):
        sys.exit(f"{export_dir}: not found, or not a directory; expected a `rankdistil export` directory")
    if not os.path.exists(path):
        sys.exit(f"{path}: not found; is {export_dir} a `rankdistil export` directory?")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            sys.exit(f"{path}: not a rankdistil export config ({e})")


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

#!/usr/bin/env sh
# Extract the texts chat users read, merge them into the catalogs, compile the .mo files.
# After `extract`+`update`, translate the new entries in each .po (no fuzzy, no empty
# msgstr: tests/test_i18n.py fails otherwise), then run this again to compile.
set -eu
cd "$(dirname "$0")/.."
dir=assistant_cli/i18n/locales
pybabel extract -F babel.cfg --no-location --sort-output --omit-header -w 90 \
  --project assistant-cli -o "$dir/assistant_cli.pot" .
pybabel update -i "$dir/assistant_cli.pot" -d "$dir" -D assistant_cli -w 90 --ignore-obsolete
pybabel compile -d "$dir" -D assistant_cli --statistics

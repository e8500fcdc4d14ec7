#!/usr/bin/env bash
# Mutation-tests one part of src/core against the test files named, with its own incremental file,
# reports and temp directory, so parts can run one after another (or beside each other) and each
# part's results are kept as soon as it finishes. See docs/testing-mutation.md.
#
#   scripts/mutation-folder.sh <name> <mutate globs, comma separated> <test file globs, comma separated> [stryker options]
#   scripts/mutation-folder.sh auth 'src/core/auth/**/*.ts' 'test/functions/auth-*.test.ts' --concurrency 2
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 <name> <mutate globs> <test file globs> [stryker options]" >&2
  exit 2
fi
name=$1 mutate=$2 tests=$3
shift 3
cd "$(dirname "$0")/.."
mkdir -p reports/mutation
config="reports/mutation/$name.config.json"
# The reporters' file names are not command-line options, so the part gets a copy of the shared config
# with its own names (reports/ is git-ignored).
node -e '
  const fs = require("node:fs");
  const [name, out] = process.argv.slice(1);
  const c = JSON.parse(fs.readFileSync("stryker.config.json", "utf8"));
  delete c.$schema;
  c.incrementalFile = `reports/mutation/${name}-incremental.json`;
  c.htmlReporter = { fileName: `reports/mutation/${name}.html` };
  c.jsonReporter = { fileName: `reports/mutation/${name}.json` };
  c.tempDirName = `.stryker-tmp-${name}`;
  c.ignorePatterns = [...(c.ignorePatterns ?? []), ".stryker-tmp*"];
  fs.writeFileSync(out, JSON.stringify(c, null, 2));
' "$name" "$config"
exec npx stryker run "$config" --mutate "$mutate" --testFiles "$tests" "$@"

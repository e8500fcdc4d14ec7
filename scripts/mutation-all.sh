#!/usr/bin/env bash
# Measures src/core part by part (scripts/mutation-parts.txt), one part after another, then prints the
# table of every part and the total (scripts/mutation-summary.ts). A part with a report already is
# skipped unless --again is given; either way each part's incremental file makes a re-run test only
# the mutants whose code or tests changed. Stopping a part with Ctrl-C keeps what it tested (Stryker
# saves a partial incremental file), and the next run goes on from there. See docs/testing-mutation.md.
#
#   scripts/mutation-all.sh                    # every part not measured yet
#   scripts/mutation-all.sh sweep-b storage    # these parts
#   scripts/mutation-all.sh --again sweep-a    # measure again (incrementally)
#   MUTATION_CONCURRENCY=4 scripts/mutation-all.sh   # default 2: one type checker, one test runner
set -euo pipefail
cd "$(dirname "$0")/.."
again=
if [ "${1:-}" = "--again" ]; then again=1; shift; fi
wanted=" $* "
mkdir -p reports/mutation
while IFS='|' read -r name mutate tests; do
  case "$name" in '' | \#*) continue ;; esac
  if [ $# -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  if [ -f "reports/mutation/$name.json" ] && [ -z "$again" ]; then continue; fi
  echo "$(date -u +%T) part $name" >&2
  # The timeout is the covering tests' own time plus 10 s: a mutant that makes a loop endless costs
  # 10 s instead of the default 60 s (it counts as detected either way).
  if ! { time scripts/mutation-folder.sh "$name" "$mutate" "$tests" \
    --concurrency "${MUTATION_CONCURRENCY:-2}" --timeoutMS 10000 \
    --reporters json,html,clear-text,progress-append-only; } > "reports/mutation/$name.log" 2>&1; then
    echo "part $name failed: see reports/mutation/$name.log" >&2
  fi
done < scripts/mutation-parts.txt
npx tsx scripts/mutation-summary.ts

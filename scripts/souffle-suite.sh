#!/usr/bin/env bash
# Optional: runs Soufflé's own evaluation tests (tests/evaluation/<name>/ of a Soufflé checkout)
# through `bindlog eval` and sorts each test into one class:
#
#   pass         every expected output matches bindlog's
#   fail         bindlog ran to the end but some output has wrong rows (or is missing, or extra)
#   unsupported  bindlog refused the program before evaluating it, with a diagnostic (exit 2):
#                a construct outside its subset (components, records, floats, eqrel, choice, ...).
#                The first diagnostic line and its place (file:line:col) are recorded.
#   error        anything else: a crash (signal), a timeout, another exit status, or an exit 2
#                whose diagnostic is not a refusal of the program (a facts file that cannot be
#                read, a limit reached, an output that cannot be written)
#
# "In the subset" means: not `unsupported`. Whether a refusal really names a construct outside
# the subset is for a human to check in the list this prints; a refusal of a supported construct
# is a bug too.
#
# Each test is run as Soufflé's test suite runs it (cmake/SouffleTests.cmake): from an empty
# output directory, `bindlog eval <name>/<name>.dl -F <name>/facts -D .` (an empty facts
# directory when the test has none). Comparisons follow Soufflé's cmake/check_test_results.py
# and check_std_outputs.py:
#   - every `<name>/*.csv` is an expected output relation; bindlog's file of the same name is
#     compared as a sorted multiset of lines, trailing whitespace stripped (Soufflé writes rows
#     in its index order; bindlog sorts), and a `.csv` bindlog writes that is not expected is an
#     extra output (Soufflé's suite checks the count);
#   - `<name>.out`, the expected standard output (`.printsize` lines, `IO=stdout`), is compared
#     with bindlog's standard output the same way;
#   - `<name>.err`, Soufflé's expected standard error, is not compared: every evaluation test is
#     a positive one and its `.err` holds only Soufflé's warnings ("variable only occurs once",
#     "wrong pattern provided"), whose wording bindlog does not share. The TSV notes which tests
#     expect warnings.
# Expected outputs and facts are tab-separated with no headers in every test of Soufflé 2.5; a
# program that reads or writes with other `delimiter=`/`headers=` options is run as written
# (bindlog supports both), and its expected `.csv` is compared as Soufflé wrote it.
# Tests disabled in tests/evaluation/CMakeLists.txt (commented out, e.g. `math`) are not run.
#
# Soufflé is not part of this repository or of CI. Get its tests, e.g. at tag 2.5:
#
#   git clone https://github.com/souffle-lang/souffle /tmp/souffle-src
#   git -C /tmp/souffle-src checkout 2.5
#   SOUFFLE_SRC=/tmp/souffle-src scripts/souffle-suite.sh
#
#   BINDLOG=/path/to/bindlog ...   # the binary to test (default: target/release/bindlog)
#   DIR=/tmp/souffle-suite ...     # where runs and results.tsv go (default: /tmp/souffle-suite)
#   TIMEOUT=20 ...                 # seconds per test before it counts as an error (default: 20)
#   TESTS="aggregates neg1" ...    # run only these tests (default: every enabled one)
#   EVAL_ARGS="--engine compare" ...  # more arguments for every `bindlog eval`
#
# Exit status: 0 when no test fails or errs, 1 otherwise, 2 on a usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SOUFFLE_SRC:-}" ] || ! [ -d "$SOUFFLE_SRC/tests/evaluation" ]; then
  echo "souffle-suite.sh: set SOUFFLE_SRC to a checkout of https://github.com/souffle-lang/souffle" \
    "(no tests/evaluation under SOUFFLE_SRC=${SOUFFLE_SRC:-unset})." >&2
  echo "Soufflé is not part of this repository; this suite is optional." >&2
  exit 2
fi
SRC=$(cd "$SOUFFLE_SRC/tests/evaluation" && pwd)
BINDLOG=${BINDLOG:-$here/target/release/bindlog}
case $BINDLOG in /*) ;; */*) BINDLOG=$PWD/$BINDLOG ;; *) BINDLOG=$(command -v "$BINDLOG" || echo "$BINDLOG") ;; esac
if ! [ -x "$BINDLOG" ]; then
  echo "souffle-suite.sh: no bindlog binary at $BINDLOG (build it with cargo build --release or set BINDLOG)." >&2
  exit 2
fi
DIR=${DIR:-/tmp/souffle-suite}
TIMEOUT=${TIMEOUT:-20}
read -r -a EVAL_ARGS <<<"${EVAL_ARGS:-}"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -rf "$DIR/runs" "$DIR/empty-facts"
mkdir -p "$DIR/runs" "$DIR/empty-facts"

if [ -z "${TESTS:-}" ]; then
  if [ -f "$SRC/CMakeLists.txt" ]; then
    # positive_test(NAME ...) and souffle_positive_functor_test(NAME ...), not commented out.
    TESTS=$(sed -nE 's/^[[:space:]]*(positive_test|souffle_positive_functor_test)\(([^ )]+).*/\2/p' \
      "$SRC/CMakeLists.txt" | awk '!seen[$0]++')
  else
    TESTS=$(cd "$SRC" && for d in */; do d=${d%/}; [ -f "$d/$d.dl" ] && echo "$d"; done)
  fi
fi

# rows FILE: its lines, trailing whitespace stripped, sorted bytewise.
rows() { sed -E 's/[[:space:]]+$//' "$1" | LC_ALL=C sort; }

# compare EXPECTED ACTUAL LABEL: nothing when they hold the same rows, else one line of reason.
compare() {
  local d missing extra
  if ! [ -f "$2" ]; then echo "$3: not written"; return; fi
  d=$(diff <(rows "$1") <(rows "$2") || true)
  [ -z "$d" ] && return
  missing=$(grep -c '^<' <<<"$d" || true)
  extra=$(grep -c '^>' <<<"$d" || true)
  printf '%s: %s missing, %s extra rows (first: %s)' "$3" "$missing" "$extra" \
    "$(grep -m1 '^[<>]' <<<"$d" | sed 's/^< /missing /; s/^> /extra /' | tr '\t' ' ' | cut -c1-80)"
  echo
}

# first_diagnostic STDERR: the first diagnostic line and the place it points at.
first_diagnostic() {
  local msg at
  msg=$(grep -m1 -E '^[[:space:]]*(×|error)' "$1" | sed -E 's/^[[:space:]]*×[[:space:]]*//' || true)
  [ -n "$msg" ] || msg=$(grep -m1 . "$1" || true)
  at=$(grep -m1 -oE '╭─\[[^]]+\]' "$1" | sed -E 's/^╭─\[//; s/\]$//; s|^.*/||' || true)
  echo "$msg${at:+ ($at)}" | tr '\t' ' ' | cut -c1-200
}

TSV=$DIR/results.tsv
printf 'test\tclass\tseconds\texit\tsouffle_warns\treason\n' >"$TSV"
n=0
for t in $TESTS; do
  n=$((n + 1))
  src=$SRC/$t
  run=$DIR/runs/$t
  mkdir -p "$run/out"
  facts=$src/facts
  [ -d "$facts" ] || facts=$DIR/empty-facts
  warns=no
  [ -s "$src/$t.err" ] && warns=yes
  if ! [ -f "$src/$t.dl" ]; then
    printf '%s\terror\t0\t-\t%s\tno %s.dl in %s\n' "$t" "$warns" "$t" "$src" >>"$TSV"
    continue
  fi
  start=$(date +%s%N)
  set +e
  (cd "$run/out" && timeout -k 5 "$TIMEOUT" "$BINDLOG" eval "$src/$t.dl" -F "$facts" -D . ${EVAL_ARGS[@]+"${EVAL_ARGS[@]}"} \
    >"$run/stdout" 2>"$run/stderr")
  rc=$?
  set -e
  secs=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  reason=
  if [ "$rc" -eq 0 ]; then
    reasons=()
    for e in "$src"/*.csv; do
      [ -f "$e" ] || continue
      r=$(compare "$e" "$run/out/$(basename "$e")" "$(basename "$e")")
      [ -n "$r" ] && reasons+=("$r")
    done
    for a in "$run/out"/*.csv; do
      [ -f "$a" ] || continue
      [ -f "$src/$(basename "$a")" ] || reasons+=("$(basename "$a"): written but not expected")
    done
    if [ -s "$src/$t.out" ] || [ -s "$run/stdout" ]; then
      r=$(compare "$src/$t.out" "$run/stdout" "stdout")
      [ -n "$r" ] && reasons+=("$r")
    fi
    if [ ${#reasons[@]} -eq 0 ]; then
      class=pass
    else
      class=fail
      reason=$(printf '%s; ' "${reasons[@]}")
      reason=${reason%; }
    fi
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    class=error reason="timeout after ${TIMEOUT}s"
  elif [ "$rc" -gt 128 ]; then
    class=error reason="killed by signal $((rc - 128)): $(first_diagnostic "$run/stderr")"
  elif [ "$rc" -eq 2 ] && grep -qE '×' "$run/stderr" &&
    ! grep -m1 -E '×' "$run/stderr" |
    grep -qE 'facts|cannot (read|write|open|create)|evaluation stopped|limit|panicked'; then
    class=unsupported reason=$(first_diagnostic "$run/stderr")
  else
    class=error reason="exit $rc: $(first_diagnostic "$run/stderr")"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$class" "$secs" "$rc" "$warns" "${reason:-}" >>"$TSV"
done

count() { awk -F'\t' -v c="$1" 'NR > 1 && $2 == c' "$TSV" | wc -l | tr -d ' '; }
pass=$(count pass) fail=$(count fail) unsupported=$(count unsupported) error=$(count error)
subset=$((pass + fail + error))
echo "bindlog: $BINDLOG ($("$BINDLOG" --version 2>&1 | head -1))"
rev=$(git -C "$SOUFFLE_SRC" describe --tags --always 2>/dev/null || true)
[ -z "$rev" ] || rev=" at $rev (commit $(git -C "$SOUFFLE_SRC" rev-parse --short=9 HEAD))"
echo "Soufflé tests: $SRC$rev"
echo
echo "| class | tests |"
echo "|---|---|"
echo "| pass | $pass |"
echo "| fail | $fail |"
echo "| error | $error |"
echo "| unsupported | $unsupported |"
echo "| total | $n |"
echo
echo "In the subset (not unsupported): $pass of $subset pass."
echo
echo "Not passing:"
awk -F'\t' 'NR > 1 && $2 != "pass" { printf "  %-12s %-32s %s\n", $2, $1, $6 }' "$TSV" |
  sort -k1,1 -s
echo
echo "Results: $TSV (runs, with each test's stdout, stderr and outputs, under $DIR/runs)"
[ "$fail" -eq 0 ] && [ "$error" -eq 0 ]

#!/usr/bin/env bash
# Whole-process measurements of `bindlog eval` against the same workloads written by hand
# against datafrog (examples/datafrog_by_hand.rs): wall time and peak resident memory from
# /usr/bin/time -v, the two programs run alternately, their outputs compared byte for byte.
# Also: `eval --explain` of one tuple against a plain run, and reading plus writing against
# `cat` of the same bytes. The machine's load average is printed with each table: this
# project's machine is shared, so compare ratios taken in one run.
#
#   scripts/measure-engine.sh                     # every workload, 5 runs each (median)
#   WORKLOADS="closure negation" REPEAT=3 scripts/measure-engine.sh
#   PARTS=copy scripts/measure-engine.sh          # only some tables: workloads, explain, copy
#   DIR=/big/disk ...                             # where inputs and outputs go (default: a temp dir)
#   BINDLOG=path BY_HAND=path ...                 # use these binaries instead of building them
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOADS=${WORKLOADS:-closure samegen negation aggregates}
PARTS=${PARTS:-workloads explain copy}
REPEAT=${REPEAT:-5}
DIR=${DIR:-$(mktemp -d)}
mkdir -p "$DIR"
if [ -z "${BINDLOG:-}" ] || [ -z "${BY_HAND:-}" ]; then
  cargo build --release --quiet --bin bindlog --example datafrog_by_hand
fi
B=${BINDLOG:-$PWD/target/release/bindlog}
H=${BY_HAND:-$PWD/target/release/examples/datafrog_by_hand}

# Runs a command once under /usr/bin/time -v; prints "seconds kib cpu-seconds" (user + system).
timed() {
  /usr/bin/time -v "$@" >/dev/null 2>"$DIR/time.txt" || { cat "$DIR/time.txt" >&2; exit 1; }
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = t[n] + 60 * t[n-1] + (n > 2 ? 3600 * t[n-2] : 0) }
              /Maximum resident set size/ { m = $2 }
              /User time|System time/ { c += $2 }
              END { printf "%.3f %d %.3f\n", s, m, c }' "$DIR/time.txt"
}

# a / b with two decimals ("-" when b is 0: `cat` may take no measurable CPU).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# compare LABEL_A LABEL_B CMD_A... -- CMD_B...: alternates the two, REPEAT times each.
compare() {
  local la=$1 lb=$2
  shift 2
  local a=() b=()
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  : >"$DIR/a.txt"
  : >"$DIR/b.txt"
  for _ in $(seq "$REPEAT"); do
    timed "${a[@]}" >>"$DIR/a.txt"
    timed "${b[@]}" >>"$DIR/b.txt"
  done
  local ta tb ma mb
  ta=$(cut -d' ' -f1 "$DIR/a.txt" | median)
  tb=$(cut -d' ' -f1 "$DIR/b.txt" | median)
  ma=$(cut -d' ' -f2 "$DIR/a.txt" | median)
  mb=$(cut -d' ' -f2 "$DIR/b.txt" | median)
  ca=$(cut -d' ' -f3 "$DIR/a.txt" | median)
  cb=$(cut -d' ' -f3 "$DIR/b.txt" | median)
  printf '| %s | %.2f s (cpu %.2f s), %.0f MB | %s | %.2f s (cpu %.2f s), %.0f MB | %sx time, %sx cpu, %sx memory |\n' \
    "$la" "$ta" "$ca" "$(ratio "$ma" 1024)" "$lb" "$tb" "$cb" "$(ratio "$mb" 1024)" \
    "$(ratio "$ta" "$tb")" "$(ratio "$ca" "$cb")" "$(ratio "$ma" "$mb")"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $REPEAT runs each, medians"
part() { [[ " $PARTS " == *" $1 "* ]]; }
if part workloads; then
  echo
  echo "| workload | bindlog eval | | datafrog by hand | ratio |"
  echo "|---|---|---|---|---|"
  for w in $WORKLOADS; do
    "$H" gen "$w" "$DIR/$w"
    rm -rf "$DIR/$w.bindlog" "$DIR/$w.hand"
    compare "$w" "by hand" "$B" eval "$DIR/$w/$w.dl" -F "$DIR/$w" -D "$DIR/$w.bindlog" -- \
      "$H" run "$w" "$DIR/$w" "$DIR/$w.hand"
    for f in "$DIR/$w.hand"/*.csv; do
      cmp -s "$f" "$DIR/$w.bindlog/$(basename "$f")" || { echo "outputs differ: $f" >&2; exit 1; }
    done
  done
fi
if part explain; then
  echo
  echo "| explain | --explain one tuple | | plain run | ratio |"
  echo "|---|---|---|---|---|"
  "$H" gen closure "$DIR/closure"
  compare "closure, path(5,17)" "plain" "$B" eval "$DIR/closure/closure.dl" -F "$DIR/closure" \
    --explain 'path(5, 17)' -- "$B" eval "$DIR/closure/closure.dl" -F "$DIR/closure" -D "$DIR/closure.plain"
fi
if part copy; then
  echo
  echo "| input and output | bindlog eval | | cat | ratio |"
  echo "|---|---|---|---|---|"
  "$H" gen copy "$DIR/copy"
  compare "copy, $(du -m "$DIR/copy/e.facts" | cut -f1) MB" "cat" "$B" eval "$DIR/copy/copy.dl" \
    -F "$DIR/copy" -D "$DIR/copy.out" -- sh -c "cat '$DIR/copy/e.facts' > '$DIR/copy.cat'"
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

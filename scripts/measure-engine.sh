#!/usr/bin/env bash
# Whole-process measurements of `bindlog eval` against the same workloads written by hand
# against datafrog (examples/datafrog_by_hand.rs): wall time and peak resident memory from
# /usr/bin/time -v, the two programs run alternately, their outputs compared byte for byte.
# Also: `eval --explain` of one tuple against a plain run, and reading plus writing against
# `cat` of the same bytes. The machine's load average is printed with each table: this
# project's machine is shared, so compare ratios taken in one run. The helpers (timed, compare)
# are in scripts/lib-measure.sh; scripts/measure-souffle.sh compares with Soufflé likewise.
#
#   scripts/measure-engine.sh                     # every workload, 5 runs each (median)
#   WORKLOADS="closure negation" REPEAT=3 scripts/measure-engine.sh
#   PARTS=copy scripts/measure-engine.sh          # only some tables: workloads, explain, copy
#   DIR=/big/disk ...                             # where inputs and outputs go (default: a temp dir)
#   BINDLOG=path BY_HAND=path ...                 # use these binaries instead of building them
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${PARTS:-workloads explain copy}
# shellcheck source=scripts/lib-measure.sh
. scripts/lib-measure.sh
workloads_and_binaries

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

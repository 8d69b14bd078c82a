#!/usr/bin/env bash
# Whole-process measurements of bulk analysis: wall time and peak resident memory of each
# command, from /usr/bin/time -v, on generated snapshots (never committed: made here).
#
#   scripts/measure-analyze.sh            # the 100k preset
#   SIZES="1k 100k 1m" scripts/measure-analyze.sh
#   SAMPLE=100 ...                        # users evaluated one at a time for the per-user figure (0: none)
#   DIR=/big/disk ...                     # where snapshots and outputs go (default: a temp dir)
#   REPEAT=3 ...                          # runs per command; the fastest is reported
#   COMMANDS=0 ...                        # leave out audit, report, deferred, query, diff, plan, ...
#   LIMIT=600 ...                         # seconds a command may take before it is reported as not finished
#   TARGETS=1 ...                         # generate with --targets (providers, notification rules, RAC
#                                         # endpoints, devices, sources, brands) and measure
#                                         # `analyze --targets` and `--format targets` too
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-100k}
SAMPLE=${SAMPLE:-100}
REPEAT=${REPEAT:-1}
COMMANDS=${COMMANDS:-1}
LIMIT=${LIMIT:-600}
TARGETS=${TARGETS:-0}
DIR=${DIR:-$(mktemp -d)}
mkdir -p "$DIR"
cargo build --release --quiet
B=$PWD/target/release/bindlog

measure() {
  local label=$1
  shift
  local wall rss w r
  for _ in $(seq "$REPEAT"); do
    if ! timeout "$LIMIT" /usr/bin/time -v "$@" >/dev/null 2>"$DIR/time.txt"; then
      printf '  %-44s not finished in %s s (or failed)\n' "$label" "$LIMIT"
      return 0
    fi
    w=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$DIR/time.txt")
    r=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/time.txt")
    # m:ss.cc sorts as text within one minute; keep the fastest run and its memory.
    if [ -z "${wall:-}" ] || [[ "$w" < "$wall" ]]; then wall=$w rss=$r; fi
  done
  printf '  %-44s %10s  %8d MiB  (%.2fx the file)\n' "$label" "$wall" $((rss / 1024)) \
    "$(echo "$rss * 1024 / $BYTES" | bc -l)"
}

echo "machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews these)"
for size in $SIZES; do
  if [ "$TARGETS" = 1 ]; then
    snap=$DIR/$size-targets.json
    "$B" generate --preset "$size" --targets -o "$snap"
  else
    snap=$DIR/$size.json
    "$B" generate --preset "$size" -o "$snap"
  fi
  BYTES=$(stat -c %s "$snap")
  echo "preset $size$([ "$TARGETS" = 1 ] && echo ' --targets'): $((BYTES / 1024 / 1024)) MiB"
  measure "check (load and validate)" "$B" check "$snap"
  measure "analyze (summary)" "$B" analyze "$snap" --no-progress
  measure "analyze --format classes" "$B" analyze "$snap" --format classes -o "$DIR/classes.jsonl"
  if [ "$TARGETS" = 1 ]; then
    measure "analyze --targets (summary and targets)" "$B" analyze "$snap" --no-progress --targets
    measure "analyze --format targets" "$B" analyze "$snap" --format targets
  fi
  measure "who --flow --stage --visibility skipped" "$B" who "$snap" \
    --flow default-authentication-flow --stage default-authentication-flow-mfa --count
  if [ "$size" != 1m ]; then
    measure "analyze --format csv (to /dev/null)" "$B" analyze "$snap" --format csv
    measure "analyze --format csv -o FILE" "$B" analyze "$snap" --format csv -o "$DIR/out.csv"
    csv_bytes=$(stat -c %s "$DIR/out.csv")
    echo "    $(wc -l <"$DIR/out.csv") rows, $((csv_bytes / 1024 / 1024)) MiB"
    # What the file system alone takes to write as many bytes (the floor for -o FILE).
    start=$(date +%s.%N)
    dd if=/dev/zero of="$DIR/dd.bin" bs=1M count=$((csv_bytes / 1048576)) 2>/dev/null
    rm -f "$DIR/dd.bin"
    printf '    dd writing as many bytes to a file: %.2f s\n' "$(echo "$(date +%s.%N) - $start" | bc -l)"
    measure "analyze --format csv -j 1" "$B" analyze "$snap" --format csv -j 1 -o "$DIR/out1.csv"
    cmp "$DIR/out.csv" "$DIR/out1.csv" && echo "    -j 1 output is byte-identical"
    rm -f "$DIR/out.csv" "$DIR/out1.csv"
  fi
  if [ "$COMMANDS" = 1 ]; then
    # sed reads to the end (no early exit that pipefail would take for a failure).
    user=$(grep -o '"username": *"[^"]*"' "$snap" | sed -n '1{s/.*: *"//; s/"$//; p}')
    printf '.decl skips(u: symbol)\n.output skips\nskips(U) :- visible(_, _, U, "skipped"), known(U).\n' >"$DIR/q.dl"
    measure "audit" "$B" audit "$snap"
    measure "audit --format json (with proofs)" "$B" audit "$snap" --format json
    measure "audit --format sarif" "$B" audit "$snap" --format sarif
    measure "deferred" "$B" deferred "$snap"
    measure "query --rules (three lines)" "$B" query "$snap" --rules "$DIR/q.dl"
    measure "report --no-findings -o FILE.html" "$B" report "$snap" --no-findings -o "$DIR/r.html"
    measure "report -o FILE.html" "$B" report "$snap" -o "$DIR/r.html"
    measure "report --format csv-dir" "$B" report "$snap" --format csv-dir -o "$DIR/rdir"
    measure "diff OLD NEW (the same file)" "$B" diff "$snap" "$snap"
    # One binding changed: the first policy binding turned off by an overlay blueprint.
    binding=$(grep -o '"policies/bindings": *\[{[^}]*}' "$snap" | grep -o '"pk": *"[^"]*"' | sed -n '1{s/.*: *"//; s/"$//; p}')
    printf 'version: 1\nentries:\n  - model: authentik_policies.policybinding\n    identifiers:\n      pk: %s\n    attrs:\n      enabled: false\n' "$binding" >"$DIR/one-binding.yaml"
    measure "diff OLD --overlay (one binding off)" "$B" diff "$snap" --overlay "$DIR/one-binding.yaml"
    measure "plan --user" "$B" plan "$snap" --flow default-authentication-flow --user "$user"
    measure "access --user" "$B" access "$snap" --app app-000 --user "$user"
    measure "explain --user --stage" "$B" explain "$snap" --flow default-authentication-flow \
      --user "$user" --stage default-authentication-flow-mfa
    measure "diagram --user" "$B" diagram "$snap" --flow default-authentication-flow --user "$user"
    rm -rf "$DIR/r.html" "$DIR/rdir"
  fi
  if [ "$SAMPLE" != 0 ]; then
    echo "  per-user evaluation of the same rules on $SAMPLE users, extrapolated:"
    BINDLOG_BENCH_SNAPSHOT=$snap BINDLOG_BENCH_SAMPLE=$SAMPLE cargo bench --quiet --bench analyze 2>/dev/null | sed 's/^/    /'
  fi
done

#!/usr/bin/env bash
# Optional: whole-process measurements of `bindlog eval` against Soufflé, in its interpreter
# (`souffle -F IN -D OUT PROGRAM.dl`) and as an executable compiled from the same program
# (`souffle -o EXE PROGRAM.dl`, compiled once per workload beforehand: the compile time is
# reported apart and not counted), on the engine workloads of examples/datafrog_by_hand.rs.
# The three run alternately under /usr/bin/time -v (median wall time, CPU time and peak
# resident memory; ratios are bindlog's over Soufflé's), and their output relations are
# compared row for row (Soufflé writes in its own index order, so both sides are sorted first).
#
# Soufflé is not part of this repository or of CI: build it yourself
# (https://github.com/souffle-lang/souffle) and point SOUFFLE at it, or put `souffle` on PATH.
#
#   SOUFFLE=/opt/souffle/bin/souffle scripts/measure-souffle.sh
#   WORKLOADS="closure negation" REPEAT=3 scripts/measure-souffle.sh
#   SOUFFLE_JOBS=2 ...          # passed as -j to both Soufflé modes (default: Soufflé's, 1 thread)
#   DIR=/big/disk ...           # where inputs, outputs and executables go (default: a temp dir)
#   BINDLOG=path BY_HAND=path ...  # use these binaries instead of building them
#   PARTS="workloads explain" ...  # tables to print (default: workloads)
#
# The `explain` part: one explanation on the closure workload, with provenance against a plain
# run of the same engine. Soufflé's interpreter with `-t explain` (its provenance: every tuple
# keeps the rule and height that first derived it) reads `setdepth 10`, `explain path(5, 17)`
# and `exit` from stdin, prints the proof tree and writes the outputs as a plain run does;
# `bindlog eval --explain 'path(5, 17)'` prints the proof and writes no outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
SOUFFLE=${SOUFFLE:-$(command -v souffle || true)}
if [ -z "$SOUFFLE" ] || ! [ -x "$SOUFFLE" ]; then
  echo "measure-souffle.sh: no Soufflé found (SOUFFLE=${SOUFFLE:-unset}, none on PATH):" \
    "set SOUFFLE=/path/to/souffle or put souffle on PATH." >&2
  echo "Soufflé is not part of this repository; this measurement is optional." >&2
  exit 2
fi
PARTS=${PARTS:-workloads}
part() { [[ " $PARTS " == *" $1 "* ]]; }
JOBS=()
if [ -n "${SOUFFLE_JOBS:-}" ]; then JOBS=(-j "$SOUFFLE_JOBS"); fi

# shellcheck source=scripts/lib-measure.sh
. scripts/lib-measure.sh
workloads_and_binaries

# same OUT_A OUT_B: every relation bindlog wrote has the same rows in Soufflé's output.
same() {
  local f
  for f in "$1"/*.csv; do
    [ -f "$2/$(basename "$f")" ] || { echo "no $(basename "$f") in $2" >&2; return 1; }
    cmp -s <(LC_ALL=C sort "$f") <(LC_ALL=C sort "$2/$(basename "$f")") ||
      { echo "outputs differ: $f and $2/$(basename "$f")" >&2; return 1; }
  done
}

# cell SECONDS KIB CPU: "0.26 s (cpu 0.25 s), 32 MB".
cell() { printf '%.2f s (cpu %.2f s), %.0f MB' "$1" "$3" "$(ratio "$2" 1024)"; }
# ratios A_SECONDS A_KIB A_CPU B_SECONDS B_KIB B_CPU: A over B.
ratios() { printf '%sx time, %sx cpu, %sx memory' "$(ratio "$1" "$4")" "$(ratio "$3" "$6")" "$(ratio "$2" "$5")"; }

echo "Soufflé: $SOUFFLE, $("$SOUFFLE" --version 2>&1 | grep -i -m1 'version\|souffle' || true)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $REPEAT runs each, medians"
if part workloads; then
  echo
  echo "| workload | bindlog eval | Soufflé interpreter | ratio | Soufflé compiled | ratio | compile |"
  echo "|---|---|---|---|---|---|---|"
  for w in $WORKLOADS; do
    "$H" gen "$w" "$DIR/$w"
    P=$DIR/$w/$w.dl
    rm -rf "$DIR/$w.bindlog" "$DIR/$w.interp" "$DIR/$w.compiled" "$DIR/$w.exe"
    mkdir -p "$DIR/$w.interp" "$DIR/$w.compiled"
    # One untimed run of each: Soufflé must accept the program and agree on every row.
    "$B" eval "$P" -F "$DIR/$w" -D "$DIR/$w.bindlog" >/dev/null
    if ! "$SOUFFLE" "${JOBS[@]}" -F "$DIR/$w" -D "$DIR/$w.interp" "$P" >"$DIR/$w.interp.log" 2>&1; then
      echo "| $w | Soufflé rejects the program: $(head -c 300 "$DIR/$w.interp.log" | tr '\n' ' ') | | | | | |"
      continue
    fi
    same "$DIR/$w.bindlog" "$DIR/$w.interp"
    read -r ct _ _ <<<"$(timed "$SOUFFLE" -o "$DIR/$w.exe" "$P")"
    "$DIR/$w.exe" "${JOBS[@]}" -F "$DIR/$w" -D "$DIR/$w.compiled"
    same "$DIR/$w.bindlog" "$DIR/$w.compiled"
    alternate "$B" eval "$P" -F "$DIR/$w" -D "$DIR/$w.bindlog" -- \
      "$SOUFFLE" "${JOBS[@]}" -F "$DIR/$w" -D "$DIR/$w.interp" "$P" -- \
      "$DIR/$w.exe" "${JOBS[@]}" -F "$DIR/$w" -D "$DIR/$w.compiled"
    read -r bt bm bc <<<"$(medians 1)"
    read -r it im ic <<<"$(medians 2)"
    read -r xt xm xc <<<"$(medians 3)"
    printf '| %s | %s | %s | %s | %s | %s | %.0f s |\n' "$w" "$(cell "$bt" "$bm" "$bc")" \
      "$(cell "$it" "$im" "$ic")" "$(ratios "$bt" "$bm" "$bc" "$it" "$im" "$ic")" \
      "$(cell "$xt" "$xm" "$xc")" "$(ratios "$bt" "$bm" "$bc" "$xt" "$xm" "$xc")" "$ct"
    same "$DIR/$w.bindlog" "$DIR/$w.interp"
    same "$DIR/$w.bindlog" "$DIR/$w.compiled"
  done
fi
if part explain; then
  echo
  echo "| explain path(5, 17), closure | with provenance, one explain | plain run | ratio |"
  echo "|---|---|---|---|"
  "$H" gen closure "$DIR/closure"
  P=$DIR/closure/closure.dl
  rm -rf "$DIR/closure.splain" "$DIR/closure.sprov" "$DIR/closure.bplain"
  mkdir -p "$DIR/closure.splain" "$DIR/closure.sprov"
  printf 'setdepth 10\nexplain path(5, 17)\nexit\n' >"$DIR/explain.txt"
  # One untimed run of each: both must find the proof, ending in the tuple asked for.
  "$SOUFFLE" "${JOBS[@]}" -t explain -F "$DIR/closure" -D "$DIR/closure.sprov" "$P" \
    <"$DIR/explain.txt" >"$DIR/souffle-explain.txt"
  grep -q '^ *path(5, 17) *$' "$DIR/souffle-explain.txt" ||
    { echo "Soufflé gave no proof of path(5, 17):" >&2; head -c 500 "$DIR/souffle-explain.txt" >&2; exit 1; }
  "$B" eval "$P" -F "$DIR/closure" --explain 'path(5, 17)' >"$DIR/bindlog-explain.txt"
  grep -q 'path(5, 17)' "$DIR/bindlog-explain.txt" ||
    { echo "bindlog gave no proof of path(5, 17)" >&2; exit 1; }
  alternate sh -c "$(printf '%q ' "$SOUFFLE" "${JOBS[@]}" -t explain -F "$DIR/closure" \
    -D "$DIR/closure.sprov" "$P") <$(printf '%q' "$DIR/explain.txt")" -- \
    "$SOUFFLE" "${JOBS[@]}" -F "$DIR/closure" -D "$DIR/closure.splain" "$P" -- \
    "$B" eval "$P" -F "$DIR/closure" --explain 'path(5, 17)' -- \
    "$B" eval "$P" -F "$DIR/closure" -D "$DIR/closure.bplain"
  read -r st sm sc <<<"$(medians 1)"
  read -r pt pm pc <<<"$(medians 2)"
  read -r bt bm bc <<<"$(medians 3)"
  read -r qt qm qc <<<"$(medians 4)"
  printf '| Soufflé interpreter | %s | %s | %s |\n' "$(cell "$st" "$sm" "$sc")" \
    "$(cell "$pt" "$pm" "$pc")" "$(ratios "$st" "$sm" "$sc" "$pt" "$pm" "$pc")"
  printf '| bindlog eval | %s | %s | %s |\n' "$(cell "$bt" "$bm" "$bc")" \
    "$(cell "$qt" "$qm" "$qc")" "$(ratios "$bt" "$bm" "$bc" "$qt" "$qm" "$qc")"
  printf '| bindlog over Soufflé | %s | %s | |\n' "$(ratios "$bt" "$bm" "$bc" "$st" "$sm" "$sc")" \
    "$(ratios "$qt" "$qm" "$qc" "$pt" "$pm" "$pc")"
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

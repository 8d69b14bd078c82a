# shellcheck shell=bash
# Helpers shared by the whole-process measurement scripts (sourced, not run): timing under
# /usr/bin/time -v, medians, ratios, and commands run alternately. The caller sets DIR (a
# scratch directory) and REPEAT (runs of each command), or calls `workloads_and_binaries`.

# The engine workloads' settings (WORKLOADS, REPEAT, DIR, made) and binaries: B, bindlog; H, the
# hand-written datafrog programs (built unless BINDLOG and BY_HAND name them).
workloads_and_binaries() {
  WORKLOADS=${WORKLOADS:-closure samegen negation aggregates}
  REPEAT=${REPEAT:-5}
  DIR=${DIR:-$(mktemp -d)}
  mkdir -p "$DIR"
  if [ -z "${BINDLOG:-}" ] || [ -z "${BY_HAND:-}" ]; then
    cargo build --release --quiet --bin bindlog --example datafrog_by_hand
  fi
  # shellcheck disable=SC2034 # read by the scripts that call this
  B=${BINDLOG:-$PWD/target/release/bindlog}
  # shellcheck disable=SC2034
  H=${BY_HAND:-$PWD/target/release/examples/datafrog_by_hand}
}

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

# alternate CMD_1... -- CMD_2... [-- CMD_3...]: runs the commands one after the other, REPEAT
# rounds, and writes each one's `timed` lines to $DIR/run1.txt, $DIR/run2.txt, ...
alternate() {
  local cmds=() cmd=() i
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then
      cmds+=("$(printf '%q ' "${cmd[@]}")")
      cmd=()
    else
      cmd+=("$1")
    fi
    shift
  done
  cmds+=("$(printf '%q ' "${cmd[@]}")")
  for i in "${!cmds[@]}"; do : >"$DIR/run$((i + 1)).txt"; done
  for _ in $(seq "$REPEAT"); do
    for i in "${!cmds[@]}"; do
      eval "timed ${cmds[$i]}" >>"$DIR/run$((i + 1)).txt"
    done
  done
}

# medians N: "seconds kib cpu-seconds", each the median of the Nth command's runs.
medians() {
  local f="$DIR/run$1.txt"
  echo "$(cut -d' ' -f1 "$f" | median) $(cut -d' ' -f2 "$f" | median) $(cut -d' ' -f3 "$f" | median)"
}

# compare LABEL_A LABEL_B CMD_A... -- CMD_B...: alternates the two, REPEAT times each, and
# prints a table row of their medians and the ratios of A to B.
compare() {
  local la=$1 lb=$2 ta ma ca tb mb cb
  shift 2
  alternate "$@"
  read -r ta ma ca <<<"$(medians 1)"
  read -r tb mb cb <<<"$(medians 2)"
  printf '| %s | %.2f s (cpu %.2f s), %.0f MB | %s | %.2f s (cpu %.2f s), %.0f MB | %sx time, %sx cpu, %sx memory |\n' \
    "$la" "$ta" "$ca" "$(ratio "$ma" 1024)" "$lb" "$tb" "$cb" "$(ratio "$mb" 1024)" \
    "$(ratio "$ta" "$tb")" "$(ratio "$ca" "$cb")" "$(ratio "$ma" "$mb")"
}

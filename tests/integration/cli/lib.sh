#  Shared set-up for the CLI integration tests, sourced by each script.
#  Usage: bash SCRIPT.sh BINDIR   (BINDIR holds abbey, abbey-busd, abbey-logd)
#  Gives each test its own dev cluster in a fresh temp dir, and always takes
#  it down and removes it on exit, pass or fail.
set -euo pipefail

bindir="${1:?usage: $0 BINDIR}"
ABBEY="$bindir/abbey"
[ -x "$ABBEY" ] || { echo "no abbey binary in $bindir" >&2; exit 1; }
command -v jq >/dev/null || { echo "these tests need jq" >&2; exit 1; }

work="$(mktemp -d /tmp/abbey-it-cli.XXXXXX)"
dev="$work/dev"
export ABBEY_HOME="$work/home"          # never touch the user's ~/.abbey
export ABBEY_CLUSTER="$dev/cluster.yaml"
unset ABBEY_AS || true

cleanup () {
  local rc=$?
  "$ABBEY" dev down --dir "$dev" >/dev/null 2>&1 || true
  [ ! -d "$ABBEY_HOME/dev" ] || "$ABBEY" dev down --dir "$ABBEY_HOME/dev" >/dev/null 2>&1 || true
  if [ $rc -ne 0 ] && [ -d "$dev/logs" ]; then
    for f in "$dev"/logs/*.log; do echo "--- $f"; tail -n 30 "$f"; done >&2
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
#  A command that fails outside the expect_* helpers ends the test (set -e):
#  say which one, or the failure is silent.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR

abbey () { "$ABBEY" "$@"; }

fail () { echo "FAIL: $*" >&2; exit 1; }

#  expect_eq WHAT GOT WANT
expect_eq () { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }

#  expect_fail WHAT CMD... : CMD must exit non-zero; its stderr is left in $err
expect_fail () {
  local what="$1"; shift
  if "$@" >"$work/out" 2>"$work/err"; then fail "$what: expected failure, got success: $(cat "$work/out")"; fi
  err="$(cat "$work/err")"
}

#  expect_err_has WHAT TEXT : the last expect_fail's stderr contains TEXT
expect_err_has () { case "$err" in *"$2"*) ;; *) fail "$1: stderr lacks '$2': $err";; esac; }

#  alive PID: running and not a zombie (PID 1 here may be slow to reap)
alive () {
  local st
  st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

head_seq () { abbey log head --json | jq -r .seq; }

dev_up () { abbey dev up --dir "$dev" >/dev/null; }

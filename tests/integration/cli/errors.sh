#  Bad input gets a clear error and changes nothing: forbidden types, bad
#  JSON, unknown types and commands, missing arguments; --help everywhere.
source "$(dirname "$0")/lib.sh"
dev_up
abbey append note.added note/a >/dev/null

expect_fail "admin may not node.lost" abbey append node.lost node/n1
expect_err_has "forbidden" "forbidden"
expect_fail "unknown type" abbey append nonsense.happened x/y
expect_err_has "unknown-type" "unknown-type"
expect_fail "bad JSON" abbey append note.added note/b --data '{"a": 1,
  "b": }'
expect_err_has "names the line" "line 2"
expect_fail "JSON not an object" abbey append note.added note/b --data '[1,2]'
expect_fail "missing subject" abbey append note.added
expect_eq "nothing appended" "$(head_seq)" 1

expect_fail "unknown command" abbey frobnicate
expect_err_has "unknown command message" "frobnicate"
if abbey frobnicate 2>/dev/null; then :; else expect_eq "usage exit code" $? 2; fi
expect_fail "unknown subcommand" abbey log frobnicate
expect_fail "unknown option" abbey events --frobnicate
expect_fail "no cluster" abbey log head --cluster "$work/none.yaml"
expect_err_has "no cluster message" "none.yaml"

for c in "" keys "keys init" "keys add" "keys list" "keys revoke" dev "dev up" "dev status" \
  "dev down" append events log "log head" "log verify" "log export" graph; do
  # shellcheck disable=SC2086
  out="$(abbey $c --help)" || fail "abbey $c --help exits non-zero"
  grep -qi usage <<<"$out" || fail "abbey $c --help prints no usage"
done
echo "ok"

#  append → events round trip: human and --json output, --from resumes
#  exactly at N, --type/--subject filters, --since, and --follow sees new events.
source "$(dirname "$0")/lib.sh"
dev_up

for i in 1 2 3 4 5; do
  expect_eq "append $i" "$(abbey append note.added "stack/shop/n$i" --data "{\"i\": $i, \"text\": \"n$i\"}")" "$i"
done
expect_eq "agent append" "$(abbey append node.joined node/n1 --data '{"cpu": 2}' --as agent)" 6

#  --json: one object per line, usable with jq
all="$(abbey events --json)"
expect_eq "event count" "$(wc -l <<<"$all")" 6
expect_eq "seqs" "$(jq -r .seq <<<"$all" | tr '\n' ' ')" "1 2 3 4 5 6 "
expect_eq "data round trip" "$(jq -c 'select(.seq==3) | .data' <<<"$all")" '{"i":3,"text":"n3"}'
expect_eq "type" "$(jq -r 'select(.seq==6) | .type' <<<"$all")" "node.joined"
expect_eq "subject" "$(jq -r 'select(.seq==6) | .subj' <<<"$all")" "node/n1"
case "$(jq -r 'select(.seq==6) | .src' <<<"$all")" in agent:agent:*) ;; *) fail "src of agent event";; esac
[ "$(jq -r 'select(.seq==1) | .hash' <<<"$all" | wc -c)" = 65 ] || fail "hash is not 64 hex"

#  human lines: seq, time, type, subject, src, data
human="$(abbey events)"
expect_eq "human count" "$(wc -l <<<"$human")" 6
grep -q '^3 .*note.added.*stack/shop/n3.*admin:admin.*"text":"n3"' <<<"$human" || fail "human line: $human"

#  --from N starts exactly at N
expect_eq "--from 4" "$(abbey events --from 4 --json | jq -r .seq | tr '\n' ' ')" "4 5 6 "
expect_eq "--from 6" "$(abbey events --from 6 --json | jq -r .seq | tr '\n' ' ')" "6 "
expect_eq "--from past head" "$(abbey events --from 7 --json | wc -c)" 0
expect_fail "--from 0" abbey events --from 0
expect_fail "--from junk" abbey events --from abc
expect_err_has "--from junk message" "abc"

#  filters
expect_eq "--type node." "$(abbey events --type node. --json | jq -r .seq | tr '\n' ' ')" "6 "
expect_eq "--type twice" "$(abbey events --type node. --type note.added --json | wc -l)" 6
expect_eq "--subject" "$(abbey events --subject stack/shop/n2 --json | jq -r .seq)" 2
expect_eq "--subject and --type" "$(abbey events --subject stack/ --type node. --json | wc -c)" 0

#  --since: relative and RFC 3339
expect_eq "--since 1h" "$(abbey events --since 1h --json | wc -l)" 6
expect_eq "--since future" "$(abbey events --since 2999-01-01T00:00:00Z --json | wc -c)" 0
ts4="$(jq -r 'select(.seq==4) | .ts' <<<"$all")"
since="$(date -u -d "@$((ts4 / 1000000000))" +%Y-%m-%dT%H:%M:%SZ)"
#  jq -s reads everything: a head(1) here would SIGPIPE abbey under pipefail
first="$(abbey events --since "$since" --json | jq -s ".[0].seq")"
[ "$first" -le 4 ] || fail "--since $since started at $first"
expect_eq "--since 1h30m" "$(abbey events --since 1h30m --json | wc -l)" 6
expect_eq "--since epoch" "$(abbey events --since 1970-01-01T00:00:00Z --json | wc -l)" 6
expect_eq "--since a leap day" "$(abbey events --since 2024-02-29T23:59:59Z --json | wc -l)" 6
expect_eq "--since offset+fraction" \
  "$(abbey events --since 2999-01-01T00:00:00.250+01:00 --json | wc -c)" 0
expect_eq "--since lower-case t/z" "$(abbey events --since 2000-01-01t00:00:00z --json | wc -l)" 6
for bad in 2026-13-01T00:00:00Z 2026-02-29T00:00:00Z 2026-01-01T00:00:00 10x 1h- ""; do
  expect_fail "--since '$bad'" abbey events --since "$bad"
done
expect_fail "--since junk" abbey events --since yesterday
expect_err_has "--since message" "RFC 3339"
expect_fail "--from with --since" abbey events --from 1 --since 1h

#  --follow: history then live
#  "$ABBEY", not the abbey function: $! must be abbey itself to kill it.
"$ABBEY" events --follow --from 5 --json >"$work/follow" 2>"$work/follow.err" &
fpid=$!
for _ in $(seq 100); do [ "$(wc -l <"$work/follow")" -ge 2 ] && break; sleep 0.1; done
expect_eq "follow history" "$(jq -r .seq "$work/follow" | tr '\n' ' ')" "5 6 "
abbey append note.added stack/shop/live --data '{"text":"live"}' >/dev/null
for _ in $(seq 100); do [ "$(wc -l <"$work/follow")" -ge 3 ] && break; sleep 0.1; done
kill "$fpid"
for _ in $(seq 50); do alive "$fpid" || break; sleep 0.1; done
if alive "$fpid"; then fail "events --follow ignored SIGTERM"; fi
wait "$fpid" 2>/dev/null || true
expect_eq "follow live" "$(jq -r .seq "$work/follow" | tr '\n' ' ')" "5 6 7 "
expect_eq "follow live data" "$(tail -n1 "$work/follow" | jq -r .data.text)" "live"
echo "ok"

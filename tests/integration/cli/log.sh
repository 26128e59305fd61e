#  abbey log head / verify / export: the chain verifies client-side over the
#  wire, ranges work, and the export is JSON lines an auditor can check.
source "$(dirname "$0")/lib.sh"
dev_up

expect_eq "empty head" "$(head_seq)" 0
abbey log verify >/dev/null || fail "verify of an empty log"
for i in $(seq 1 12); do abbey append note.added "note/$i" --data "{\"i\": $i}" >/dev/null; done
h="$(abbey log head --json)"
expect_eq "head seq" "$(jq -r .seq <<<"$h")" 12
grep -q "seq 12 " <<<"$(abbey log head)" || fail "human head lacks the seq"

out="$(abbey log verify)" || fail "verify failed: $out"
grep -q "1..12" <<<"$out" || fail "verify should name the range: $out"
out="$(abbey log verify --from 4 --to 9)" || fail "range verify failed: $out"
grep -q "4..9" <<<"$out" || fail "range verify should name 4..9: $out"
expect_fail "verify --from 0" abbey log verify --from 0
expect_fail "verify backwards" abbey log verify --from 9 --to 4

abbey log export >"$work/audit.jsonl"
expect_eq "export lines" "$(wc -l <"$work/audit.jsonl")" 12
jq -e . "$work/audit.jsonl" >/dev/null || fail "export is not JSON lines"
#  each line links to the one before: prev(n) = hash(n-1), seq 1's prev is zeros
expect_eq "seq 1 prev" "$(jq -r 'select(.seq==1) | .prev' "$work/audit.jsonl")" \
  "0000000000000000000000000000000000000000000000000000000000000000"
links="$(jq -s '[range(1; length) as $i | .[$i].prev == .[$i-1].hash] | all' "$work/audit.jsonl")"
expect_eq "chain links in export" "$links" true
expect_eq "head hash = last hash" "$(tail -n1 "$work/audit.jsonl" | jq -r .hash)" "$(jq -r .hash <<<"$h")"
expect_eq "export range" "$(abbey log export --from 3 --to 5 | jq -r .seq | tr '\n' ' ')" "3 4 5 "
echo "ok"

#  abbey graph: two separate processes replaying the same log print the same
#  digest; --at an earlier seq (or time) gives the earlier, smaller state.
source "$(dirname "$0")/lib.sh"
dev_up

abbey append node.joined node/n1 --data '{"cpu": 2, "memory": 4294967296}' --as agent >/dev/null
abbey append note.added node/n1 --data '{"text": "first"}' >/dev/null
abbey append node.joined node/n2 --data '{"cpu": 4, "memory": 8589934592}' --as agent >/dev/null
abbey append note.added node/n2 --data '{"text": "second"}' >/dev/null

g1="$(abbey graph --json)"
g2="$(abbey graph --json)"
expect_eq "graph seq" "$(jq -r .seq <<<"$g1")" 4
d1="$(jq -r .digest <<<"$g1")"
[ ${#d1} -ge 32 ] || fail "digest looks wrong: $d1"
expect_eq "same digest in two processes" "$(jq -r .digest <<<"$g2")" "$d1"
grep -q "$d1" <<<"$(abbey graph)" || fail "human graph output lacks the digest"

#  earlier state: fewer nodes, different digest
a2="$(abbey graph --at 2 --json)"
expect_eq "--at seq" "$(jq -r .seq <<<"$a2")" 2
[ "$(jq -r .digest <<<"$a2")" != "$d1" ] || fail "--at 2 has the head digest"
expect_eq "--at 2 is stable" "$(abbey graph --at 2 --json | jq -r .digest)" "$(jq -r .digest <<<"$a2")"
expect_eq "nodes at head" "$(jq '.nodes | length' <<<"$g1")" 2
expect_eq "nodes at 2" "$(jq '.nodes | length' <<<"$a2")" 1
expect_eq "notes at head" "$(jq '[.notes[] | length] | add' <<<"$g1")" 2
expect_eq "notes at 2" "$(jq '[.notes[] | length] | add' <<<"$a2")" 1
expect_eq "--at 1 has no notes" "$(abbey graph --at 1 --json | jq '[.notes[] | length] | add // 0')" 0

#  --at a time: everything so far, and before the first event nothing
expect_eq "--at now" "$(abbey graph --at 0s --json | jq -r .digest)" "$d1"
expect_eq "--at 2000" "$(abbey graph --at 2000-01-01T00:00:00Z --json | jq -r .seq)" 0
expect_eq "--at past head" "$(abbey graph --at 99 --json | jq -r .seq)" 4
expect_fail "--at junk" abbey graph --at nonsense
echo "ok"

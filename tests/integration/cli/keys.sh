#  abbey keys: init makes every identity, add makes another, list shows them,
#  revoke stops the identity on the running daemons.
source "$(dirname "$0")/lib.sh"

#  init on its own
k="$work/keys"
abbey keys init --dir "$k" >/dev/null
for n in busd logd admin scheduler agent builder netmgr costd monitor; do
  [ -f "$k/public/$n.cert" ] || fail "keys init made no $n"
  expect_eq "$n secret mode" "$(stat -c %a "$k/secret/$n.cert_secret")" 600
done
expect_fail "init twice" abbey keys init --dir "$k"
list="$(abbey keys list --dir "$k" --json)"
expect_eq "list count" "$(jq length <<<"$list")" 9
expect_eq "agent role" "$(jq -r '.[] | select(.name=="agent") | .role' <<<"$list")" agent

dev_up
abbey keys add builder builder-2 >/dev/null
expect_eq "added role" "$(abbey keys list --json | jq -r '.[] | select(.name=="builder-2") | .role')" builder
expect_fail "add twice" abbey keys add builder builder-2
expect_fail "add bad role" abbey keys add wizard w1
expect_err_has "bad role message" "wizard"
grep -q builder-2 <<<"$(abbey keys list)" || fail "human list lacks builder-2"

seq="$(abbey append lease.acquired lease/build --as builder-2)" || fail "builder-2 append"
expect_eq "builder-2 seq" "$seq" 1
#  A copy of builder-2's key kept elsewhere, as a stolen key would be: after
#  the revocation only the running daemons can refuse it.
mkdir -p "$work/stolen/public" "$work/stolen/secret"
cp "$dev/keys/public/builder-2.cert" "$work/stolen/public/"
cp "$dev/keys/secret/builder-2.cert_secret" "$work/stolen/secret/"
sed "s#^keys: .*#keys: $work/stolen#" "$dev/cluster.yaml" >"$work/stolen.yaml"
expect_eq "stolen copy works before revoke" \
  "$(abbey --cluster "$work/stolen.yaml" append lease.renewed lease/build --as builder-2)" 2
abbey keys revoke builder-2 >/dev/null
expect_eq "revoked state" "$(abbey keys list --json | jq -r '.[] | select(.name=="builder-2") | .state')" revoked
sleep 1.5   # revocation reaches running daemons within a second
expect_fail "append as revoked" abbey append lease.renewed lease/build --as builder-2 --timeout 2
expect_err_has "revoked, said locally" "revoked"
expect_fail "stolen copy after revoke" \
  abbey --cluster "$work/stolen.yaml" append lease.renewed lease/build --as builder-2 --timeout 2
expect_eq "nothing appended by the revoked key" "$(head_seq)" 2
expect_fail "unknown identity" abbey append note.added note/x --as nobody
expect_err_has "unknown identity message" "nobody"
echo "ok"

#  abbey dev up / status / down / up again: daemons start and answer, status
#  tells the truth, down stops them, and a second up keeps keys, data and ports.
source "$(dirname "$0")/lib.sh"

dev_up
[ -f "$dev/cluster.yaml" ] || fail "dev up wrote no cluster.yaml"
[ -f "$dev/keys/secret/admin.cert_secret" ] || fail "dev up made no admin key"
abbey dev status --dir "$dev" >/dev/null || fail "status after up should exit 0"
abbey dev status >/dev/null || fail "status without --dir should use \$ABBEY_CLUSTER's folder"
st="$(abbey dev status --dir "$dev" --json)"
expect_eq "daemons running" "$(jq -r '[.daemons[] | select(.state=="running")] | length' <<<"$st")" 2
for d in busd logd; do
  pid="$(jq -r ".daemons[] | select(.name==\"$d\") | .pid" <<<"$st")"
  alive "$pid" || fail "$d pid $pid is not alive"
  expect_eq "$d pid file" "$(cat "$dev/run/$d.pid")" "$pid"
done
ports_before="$(grep -o 'tcp://[^ ]*' "$dev/cluster.yaml" | sort)"

#  up on a running cluster changes nothing
dev_up
expect_eq "pids after second up" "$(abbey dev status --dir "$dev" --json | jq -c '[.daemons[].pid]')" \
  "$(jq -c '[.daemons[].pid]' <<<"$st")"

seq="$(abbey append note.added note/dev --data '{"text":"before restart"}')"
expect_eq "first seq" "$seq" 1

#  down stops both; status says so and exits non-zero
abbey dev down --dir "$dev" >/dev/null
for d in busd logd; do
  pid="$(jq -r ".daemons[] | select(.name==\"$d\") | .pid" <<<"$st")"
  if alive "$pid"; then fail "$d ($pid) still alive after down"; fi
done
expect_fail "status when down" abbey dev status --dir "$dev" --json
expect_eq "stopped daemons" "$(jq -r '[.daemons[] | select(.state=="stopped")] | length' "$work/out")" 2
expect_fail "append when down" abbey append note.added note/dev --data '{}' --timeout 1

#  up again: same keys, same ports, and the event is still there
key_before="$(cat "$dev/keys/public/admin.cert")"
dev_up
expect_eq "admin key kept" "$(cat "$dev/keys/public/admin.cert")" "$key_before"
expect_eq "ports kept" "$(grep -o 'tcp://[^ ]*' "$dev/cluster.yaml" | sort)" "$ports_before"
expect_eq "data kept" "$(abbey events --json | jq -r .data.text)" "before restart"
expect_eq "seq continues" "$(abbey append note.added note/dev)" 2

#  a daemon that died is restarted alone
logd_pid="$(cat "$dev/run/logd.pid")"; busd_pid="$(cat "$dev/run/busd.pid")"
kill -9 "$logd_pid"
for _ in $(seq 50); do alive "$logd_pid" || break; sleep 0.1; done
expect_fail "status with logd dead" abbey dev status --dir "$dev"
dev_up
expect_eq "busd untouched" "$(cat "$dev/run/busd.pid")" "$busd_pid"
[ "$(cat "$dev/run/logd.pid")" != "$logd_pid" ] || fail "logd was not restarted"
expect_eq "head after logd restart" "$(head_seq)" 2

#  a daemon that cannot start: up fails within its bounded wait, names the
#  daemon and points at its log; status and down still work
abbey dev down --dir "$dev" >/dev/null
cp "$dev/cluster.yaml" "$work/cluster.good"
sed -i '/^logd:/,/^busd:/ s#endpoint: tcp://127.0.0.1:[0-9]*#endpoint: tcp://192.0.2.1:9#' "$dev/cluster.yaml"
expect_fail "up with an unbindable logd endpoint" abbey dev up --dir "$dev"
expect_err_has "names logd" "logd"
expect_err_has "points at the log" "$dev/logs/logd.log"
expect_fail "status with logd down" abbey dev status --dir "$dev"
abbey dev down --dir "$dev" >/dev/null || fail "down after a failed up"
cp "$work/cluster.good" "$dev/cluster.yaml"
dev_up
expect_eq "head after recovery" "$(head_seq)" 2
abbey dev down --dir "$dev" >/dev/null

#  defaults: no --dir means $ABBEY_HOME/dev, and with no --cluster and no
#  $ABBEY_CLUSTER clients find $ABBEY_HOME/dev/cluster.yaml
(
  unset ABBEY_CLUSTER
  abbey dev up >/dev/null
  [ -f "$ABBEY_HOME/dev/cluster.yaml" ] || fail "dev up without --dir did not use \$ABBEY_HOME/dev"
  expect_eq "append to the default cluster" "$(abbey append note.added note/home)" 1
  abbey dev status >/dev/null || fail "status of the default cluster"
  abbey dev down >/dev/null
  expect_fail "status of the stopped default cluster" abbey dev status
)
echo "ok"

#  Stacks end to end on a dev cluster: validate, deploy (a kit and a compose
#  file), ls, inspect, diff after an edit, re-deploy, rm; the wait ends at
#  stack.ready (0), stack.failed (1) or the timeout (2); a manifest with a
#  mistake appends nothing; the log holds exactly the expected events.
source "$(dirname "$0")/lib.sh"
examples="$(cd "$(dirname "$0")/../../../compose/examples" && pwd)"
dev_up

m="$work/m"
mkdir -p "$m"
cp "$examples/shop.kit.yaml" "$m/shop.kit.yaml"
cp -r "$examples/webapp" "$m/webapp"

#  validate: every mistake at once, file:line:col, exit 1; a good file passes.
cat >"$m/bad.kit.yaml" <<'YAML'
namespace: t
api:
  defines: service
  image: t/api:1
  reourses: { cpu: 1 }
  replicas: three
YAML
expect_fail "validate bad" abbey validate "$m/bad.kit.yaml"
expect_err_has "unknown key at its line:col" "$m/bad.kit.yaml:5:3: key \"reourses\": unknown key (did you mean \"resources\"?)"
expect_err_has "wrong type at its line:col" "$m/bad.kit.yaml:6:13: key \"replicas\": expected an integer"
expect_err_has "summary" "abbey validate: invalid: 2 errors"
if abbey validate "$m/bad.kit.yaml" >/dev/null 2>&1; then fail "validate bad exit 0"; else expect_eq "validate exit" $? 1; fi
out="$(abbey validate "$m/shop.kit.yaml" "$m/webapp/docker-compose.yml" 2>&1)"
grep -q "docker-compose, stack webapp, 3 services" <<<"$out" || fail "validate compose: $out"
grep -q "warning: .*docker-compose.yml:40:5: key \"logging\"" <<<"$out" || fail "validate warns: $out"
grep -q "ok: no errors" <<<"$out" || fail "validate ok: $out"

#  Not YAML at all, or broken YAML: a clear error naming file and place,
#  never a crash, nothing appended.
head -c 2000 /dev/urandom >"$m/garbage.yaml"
expect_fail "deploy garbage" abbey deploy "$m/garbage.yaml" --detach
expect_err_has "garbage named" "garbage.yaml: file contains a NUL byte; not a YAML text"
mkdir -p "$m/broken"
printf 'services: [1, 2\n' >"$m/broken/docker-compose.yml"
for verb in validate "deploy -f"; do
  # shellcheck disable=SC2086
  expect_fail "$verb broken compose" abbey $verb "$m/broken/docker-compose.yml"
  expect_err_has "$verb broken compose at its line" "docker-compose.yml:2:1: YAML syntax"
done
printf -- '- a\n- b\n' >"$m/list.yaml"
expect_fail "validate a list" abbey validate "$m/list.yaml"
expect_err_has "a list is no kit" "list.yaml:1:1: key \"(document)\": expected a map of definitions, got a list"
expect_eq "nothing appended for garbage" "$(head_seq)" 0

#  A deploy with a mistake appends nothing and says where.
expect_fail "deploy bad" abbey deploy "$m/bad.kit.yaml"
expect_err_has "deploy bad names the place" "bad.kit.yaml:5:3"
expect_err_has "deploy bad says nothing deployed" "nothing was deployed"
expect_eq "nothing appended" "$(head_seq)" 0
expect_fail "deploy unknown name" abbey deploy nosuchfile
expect_err_has "unknown name" "'nosuchfile': no such file"

#  build: is recorded, but there is no builder yet: validate and deploy both
#  refuse it, saying so; a key that would change what runs is an error.
mkdir -p "$m/built"
cat >"$m/built/compose.yaml" <<'YAML'
services:
  app:
    build: ./app
  redis:
    image: redis:7
YAML
expect_fail "validate build:" abbey validate "$m/built/compose.yaml"
expect_err_has "validate says why" "builder does not exist yet"
expect_fail "deploy build:" abbey deploy -f "$m/built/compose.yaml" --detach
expect_err_has "deploy says why" "service \"app\": build: is recorded, but abbey's builder does not exist yet"
printf '    privileged: true\n' >>"$m/built/compose.yaml"
expect_fail "privileged" abbey validate "$m/built/compose.yaml"
expect_err_has "privileged at its line" "compose.yaml:6:5: key \"privileged\" in service \"redis\": not supported by abbey, and ignoring it would change what runs"
expect_eq "nothing appended for build:" "$(head_seq)" 0

#  No scheduler: the wait ends honestly at the timeout, exit 2, listing why.
if abbey deploy "$m/shop.kit.yaml" --timeout 2s >"$work/out" 2>"$work/err"; then
  fail "deploy without scheduler succeeded"
else expect_eq "timeout exit" $? 2; fi
grep -q "stack app deployed: version .*, 3 services (seq 1)" "$work/out" || fail "deploy output: $(cat "$work/out")"
grep -q "abbey deploy: timeout: stack app is not ready after 2s" "$work/err" || fail "timeout: $(cat "$work/err")"
for s in db api web; do
  grep -q "service $s: ready 0/[0-9]; last event: no events yet" "$work/err" || fail "not-ready list lacks $s: $(cat "$work/err")"
done
v1="$(abbey inspect app --json | jq -r .version)"

#  On a terminal the wait is one live line, rewritten in place.
if command -v script >/dev/null; then
  tty_out="$(script -qec "'$ABBEY' deploy '$m/shop.kit.yaml' --timeout 1s" /dev/null || true)"
  grep -q $'\r\e\[Kwaiting for stack app: ready 0/6 instances' <<<"$tty_out" || fail "no live line on a TTY: $tty_out"
fi

#  The same version again: "unchanged", nothing appended.
out="$(abbey deploy "$m/shop.kit.yaml" --detach)"
grep -q "stack app unchanged" <<<"$out" || fail "unchanged: $out"
expect_eq "unchanged appends nothing" "$(head_seq)" 1

#  A docker-compose file (with its .env), detached.
(cd "$m/webapp" && abbey deploy -f docker-compose.yml --detach >/dev/null 2>&1)
ls="$(abbey ls --json)"
expect_eq "ls stacks" "$(jq -r '[.[].name] | join(",")' <<<"$ls")" "app,webapp"
expect_eq "ls app desired" "$(jq '.[0].desired' <<<"$ls")" 6
expect_eq "ls app ready" "$(jq '.[0].ready' <<<"$ls")" 0
expect_eq "ls app services" "$(jq '.[0].services' <<<"$ls")" 3
expect_eq "ls app state" "$(jq -r '.[0].state' <<<"$ls")" deploying
expect_eq "ls webapp desired" "$(jq '.[1].desired' <<<"$ls")" 4
expect_eq "ls webapp version" "$(jq -r '.[1].version' <<<"$ls")" "$(abbey inspect webapp --json | jq -r .version)"
grep -Eq "^app +${v1:0:12} +3 +0/6 +deploying +[0-9]+s$" <<<"$(abbey ls)" || fail "ls table: $(abbey ls)"
expect_eq "inspect replicas" "$(abbey inspect app --json | jq .services.api.replicas)" 3
expect_eq "inspect compose source" "$(abbey inspect webapp --json | jq -r .source)" "compose:docker-compose.yml"
grep -q "^deployed: seq 1 at " <<<"$(abbey inspect app)" || fail "inspect human: $(abbey inspect app | head)"
expect_fail "inspect unknown" abbey inspect nope
expect_err_has "inspect unknown names it" 'no stack "nope"'

#  diff after an edit: field by field; nothing appended.
sed -i 's/replicas: 3/replicas: 5/; s#shop/api:1.4#shop/api:1.5#' "$m/shop.kit.yaml"
diff="$(abbey diff "$m/shop.kit.yaml")"
expect_eq "diff" "$diff" "stack app: version ${v1:0:12} (deployed) -> $(abbey diff "$m/shop.kit.yaml" --json | jq -r .to | cut -c1-12)
~ service api
    image: \"shop/api:1.4\" -> \"shop/api:1.5\"
    replicas: 3 -> 5"
expect_eq "diff of a new stack" "$(abbey diff "$m/shop.kit.yaml" --name fresh | tail -n +2)" "+ service api
+ service db
+ service web"
expect_eq "diff appends nothing" "$(head_seq)" 2
if abbey diff "$m/shop.kit.yaml" --exit-code >/dev/null; then fail "diff --exit-code with changes exited 0"
else expect_eq "diff --exit-code with changes" $? 3; fi

#  Re-deploy: a new version; then diff shows no changes.
abbey deploy "$m/shop.kit.yaml" --detach >/dev/null
v2="$(abbey inspect app --json | jq -r .version)"
[ "$v2" != "$v1" ] || fail "re-deploy kept the version"
expect_eq "ls new version" "$(abbey ls --json | jq -r '.[0].version')" "$v2"
expect_eq "ls new desired" "$(abbey ls --json | jq '.[0].desired')" 8
grep -q "no changes" <<<"$(abbey diff "$m/shop.kit.yaml")" || fail "diff after deploy"
abbey diff "$m/shop.kit.yaml" --exit-code >/dev/null || fail "diff --exit-code without changes exited $?"

#  Deploy-time overrides: --values FILE, and --set after it wins.
printf 'api:\n  pool: 30\n' >"$m/values.yaml"
expect_eq "diff --values" "$(abbey diff "$m/shop.kit.yaml" --values "$m/values.yaml" | grep POOL)" '    env.POOL: "10" -> "30"'
expect_eq "diff --values --set" "$(abbey diff "$m/shop.kit.yaml" --values "$m/values.yaml" --set api.pool=31 | grep POOL)" '    env.POOL: "10" -> "31"'
printf 'api:\n  pool: many\n' >"$m/values.yaml"
expect_fail "bad --values" abbey deploy "$m/shop.kit.yaml" --values "$m/values.yaml" --detach
expect_err_has "bad --values names file:line:col" "values.yaml:2:9"
expect_eq "bad --values appends nothing" "$(head_seq)" 3

#  deploy --wait: progress per change, and stack.ready from the scheduler ends it (0).
wait_deployed () {   # wait until the log holds $1 stack.deployed events
  for _ in $(seq 100); do
    [ "$(abbey events --type stack.deployed --json | wc -l)" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "no stack.deployed number $1"
}
abbey deploy "$m/shop.kit.yaml" --set api.pool=21 --timeout 60s >"$work/out" 2>"$work/err" &
pid=$!
wait_deployed 4
abbey append node.joined node/n1 --data '{"cpu": 4, "memory": 8589934592}' --as agent >/dev/null
abbey append instance.placed stack/app/svc/db/1 --data '{"node": "n1"}' --as scheduler >/dev/null
abbey append instance.started stack/app/svc/db/1 --as agent >/dev/null
abbey append instance.healthy stack/app/svc/db/1 --as agent >/dev/null
abbey append stack.ready stack/app --as scheduler >/dev/null
if wait $pid; then :; else fail "deploy --wait with stack.ready exited $?: $(cat "$work/err")"; fi
expect_eq "progress and outcome" "$(tail -n +2 "$work/out")" "service db: placed 1/1, started 0/1, ready 0/1
service db: placed 1/1, started 1/1, ready 0/1
service db: placed 1/1, started 1/1, ready 1/1
stack app is ready (seq 9)"

#  ... and stack.failed ends it with the reason (1).
abbey deploy "$m/shop.kit.yaml" --set api.pool=22 --timeout 60s >"$work/out" 2>"$work/err" &
pid=$!
wait_deployed 5
abbey append stack.failed stack/app --data '{"service": "api", "reason": "image shop/api:1.5 not found"}' --as scheduler >/dev/null
if wait $pid; then fail "deploy --wait with stack.failed exited 0"; else expect_eq "failed exit" $? 1; fi
grep -q "abbey deploy: failed: stack app: api: image shop/api:1.5 not found" "$work/err" || fail "failed reason: $(cat "$work/err")"

#  A timeout names the last event seen for a service.
abbey deploy "$m/shop.kit.yaml" --set api.pool=23 --timeout 5s >"$work/out" 2>"$work/err" &
pid=$!
wait_deployed 6
abbey append instance.placed stack/app/svc/api/1 --data '{"node": "n1"}' --as scheduler >/dev/null
abbey append instance.failed stack/app/svc/api/1 --data '{"reason": "crash loop"}' --as agent >/dev/null
if wait $pid; then fail "deploy --timeout 5s exited 0"; else expect_eq "timeout exit" $? 2; fi
grep -q 'service api: ready 0/5; last event: seq [0-9]* instance.failed stack/app/svc/api/1 {"reason":"crash loop"}' "$work/err" \
  || fail "last event: $(cat "$work/err")"

#  rm: a stack.removed; unknown or removed stacks are errors naming them.
out="$(abbey rm webapp)"
grep -q "stack webapp removed (seq" <<<"$out" || fail "rm: $out"
expect_fail "rm again" abbey rm webapp
expect_err_has "rm again names it" 'stack "webapp" is already removed'
expect_fail "rm unknown" abbey rm nope
expect_err_has "rm unknown names it" 'no stack "nope"'
out="$(abbey rm app --wait --timeout 10s)"
grep -q "stack app: no instances left" <<<"$out" || fail "rm --wait: $out"
expect_eq "ls after rm" "$(abbey ls --json | jq length)" 0
expect_eq "ls --all after rm" "$(abbey ls --all --json | jq -r '[.[].state] | join(",")')" "removed,removed"

#  The log holds exactly these events, in this order.
expect_eq "events" "$(abbey events --json | jq -r '"\(.type) \(.subj)"')" "stack.deployed stack/app
stack.deployed stack/webapp
stack.deployed stack/app
stack.deployed stack/app
node.joined node/n1
instance.placed stack/app/svc/db/1
instance.started stack/app/svc/db/1
instance.healthy stack/app/svc/db/1
stack.ready stack/app
stack.deployed stack/app
stack.failed stack/app
stack.deployed stack/app
instance.placed stack/app/svc/api/1
instance.failed stack/app/svc/api/1
stack.removed stack/webapp
stack.removed stack/app"
expect_eq "deploy data" "$(abbey events --from 1 --json | head -1 | jq -r '(.data | keys | join(",")) + " " + (.data.version == .data.spec.version | tostring)')" "spec,version true"

for c in validate deploy diff ls inspect rm kit "kit load" "kit ls" "kit show"; do
  # shellcheck disable=SC2086
  grep -qi usage <<<"$(abbey $c --help)" || fail "abbey $c --help"
done
echo "ok"

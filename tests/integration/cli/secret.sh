#  abbey secret: values are sealed in the CLI, so no plaintext reaches the
#  log, the daemons' files or any output; only the agent's key opens them;
#  ls shows versions and who set them; rm removes; bad input appends nothing.
source "$(dirname "$0")/lib.sh"
OPEN="$bindir/it-secret-open"
[ -x "$OPEN" ] || fail "no it-secret-open in $bindir (built with the tests)"

#  expect_code WHAT CODE CMD... : CMD exits with CODE; its stderr is left in $err
expect_code () {
  local what="$1" want="$2" rc=0; shift 2
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  err="$(cat "$work/err")"
  [ "$rc" = "$want" ] || fail "$what: exit $rc, want $want: $err"
}

rand () { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
p1="pw1-$(rand)"; p2="key-$(rand)"; p3="pw2-$(rand)"

dev_up
keys="$dev/keys"

#  The sealing key is the agent role's alone: agent/ 0700, the key 0600,
#  and no other copy in the key directory; admins need only secrets.pub.
expect_eq "agent/ mode" "$(stat -c %a "$keys/agent")" 700
expect_eq "secrets.key mode" "$(stat -c %a "$keys/agent/secrets.key")" 600
[ -f "$keys/secrets.pub" ] || fail "no secrets.pub"
expect_eq "copies of secrets.key" "$(find "$keys" -name 'secrets.key' | wc -l)" 1

#  set from stdin, from a file, and again (a new version)
printf '%s' "$p1" | abbey secret set db-password >/dev/null
printf '%s' "$p2" >"$work/value"
abbey secret set api.key --from-file "$work/value" >/dev/null
rm "$work/value"
out="$(printf '%s' "$p3" | abbey secret set db-password)"
case "$out" in "secret db-password set"*) ;; *) fail "set output: $out";; esac
expect_eq "head after three sets" "$(head_seq)" 3

ls_json="$(abbey secret ls --json)"
expect_eq "ls names" "$(jq -r '[.[].name] | join(" ")' <<<"$ls_json")" "api.key db-password"
expect_eq "db-password version" "$(jq '.[] | select(.name=="db-password") | .version' <<<"$ls_json")" 2
expect_eq "api.key version" "$(jq '.[] | select(.name=="api.key") | .version' <<<"$ls_json")" 1
expect_eq "db-password seq" "$(jq '.[] | select(.name=="db-password") | .seq' <<<"$ls_json")" 3
expect_eq "set by admin" "$(jq -r '.[0].src' <<<"$ls_json" | cut -d: -f1-2)" "admin:admin"
expect_eq "ls keys" "$(jq -r '.[0] | keys | join(" ")' <<<"$ls_json")" "name seq set_at src ts version"
ls_text="$(abbey secret ls)"
grep -Eq '^db-password +2 +20[0-9-]+T[0-9:.]+Z +admin:admin:' <<<"$ls_text" \
  || fail "human ls row for db-password: $ls_text"

#  No plaintext anywhere: not in the dev dir (LevelDB files, daemon logs,
#  keys), not in any output, neither as bytes nor as the base64 that JSON
#  shows for a bin. A marker appended in clear shows the search can see the
#  log's bytes at all.
abbey append note.added stack/probe --data '{"text": "marker-in-clear"}' >/dev/null
o="$work/outputs"; mkdir -p "$o"
abbey events --json >"$o/events.json"
abbey events >"$o/events.txt"
abbey log export >"$o/export.jsonl"
abbey graph --json >"$o/graph.json"
abbey graph >"$o/graph.txt"
abbey secret ls --json >"$o/ls.json"
abbey secret ls >"$o/ls.txt"
grep -rqa -- "marker-in-clear" "$dev" || fail "the marker is not found in $dev: the search is blind"
grep -qa -- "marker-in-clear" "$o/export.jsonl" || fail "the marker is not in log export"
for p in "$p1" "$p2" "$p3"; do
  b64="$(printf '%s' "$p" | base64 -w0)"
  for needle in "$p" "$b64"; do
    if grep -rlaF -- "$needle" "$dev" "$o"; then fail "a secret value is in the files above"; fi
  done
done
#  ... while the sealed values are in the log, and in no listing
expect_eq "sealed values in the export" \
  "$(jq -r 'select(.type=="secret.set") | .data.ciphertext | length > 60' "$o/export.jsonl" | sort -u)" true
for f in ls.json ls.txt graph.json graph.txt; do
  if grep -q ciphertext "$o/$f"; then fail "$f mentions a ciphertext"; fi
done
ct="$(jq -r 'select(.type=="secret.set") | .data.ciphertext' "$o/export.jsonl" | head -1)"
if grep -rqF -- "$ct" "$o/ls.json" "$o/ls.txt" "$o/graph.json" "$o/graph.txt"; then
  fail "a ciphertext is in ls or graph output"
fi

#  The agent's key opens each version to its value; another cluster's key
#  does not, and neither does an altered box.
data () { jq -c "select(.type==\"secret.set\" and .subj==\"secret/$1\") | .data" "$o/export.jsonl" | sed -n "${2}p"; }
expect_eq "db-password v1 opens" "$("$OPEN" "$keys" "$(data db-password 1)")" "$p1"
expect_eq "db-password v2 opens" "$("$OPEN" "$keys" "$(data db-password 2)")" "$p3"
expect_eq "api.key opens" "$("$OPEN" "$keys" "$(data api.key 1)")" "$p2"
abbey keys init --dir "$work/other" >/dev/null
expect_fail "another cluster's key" "$OPEN" "$work/other" "$(data api.key 1)"
expect_err_has "wrong key" "does not open"
altered="$(data api.key 1 | jq -c '.ciphertext |= (.[0:10] + (if .[10:11] == "A" then "B" else "A" end) + .[11:])')"
expect_fail "an altered box" "$OPEN" "$keys" "$altered"
expect_err_has "altered" "does not open"

#  rm: gone from ls; again, or an unknown name, is an error naming it
out="$(abbey secret rm api.key)"
expect_eq "rm output" "$out" "secret api.key removed (seq 5)"
expect_eq "ls after rm" "$(abbey secret ls --json | jq -r '[.[].name] | join(" ")')" "db-password"
head="$(head_seq)"
expect_code "rm twice" 1 abbey secret rm api.key
expect_err_has "rm twice names it" "no secret 'api.key' is set"

#  Bad input: exit 1 with a clear error, nothing appended
expect_code "bad name" 1 abbey secret set 'db/password' <<<"x"
expect_err_has "bad name message" "bad secret name 'db/password'"
expect_code "name starting with a dot" 1 abbey secret set .hidden <<<"x"
expect_code "empty stdin" 1 abbey secret set empty </dev/null
expect_err_has "empty stdin message" "stdin is empty"
: >"$work/empty"
expect_code "empty file" 1 abbey secret set empty --from-file "$work/empty"
expect_err_has "empty file message" "$work/empty is empty"
expect_code "missing file" 1 abbey secret set x --from-file "$work/nope"
expect_err_has "missing file message" "$work/nope"
head -c 70000 /dev/zero >"$work/big"
expect_code "oversize" 1 abbey secret set big --from-file "$work/big"
expect_err_has "oversize message" "65536"
expect_code "not admin" 1 abbey secret set x --as agent <<<"x"
expect_err_has "not admin message" "forbidden"
expect_code "no name" 2 abbey secret set
expect_code "unknown option" 2 abbey secret ls --from-file x
expect_eq "head unchanged by bad input" "$(head_seq)" "$head"
expect_code "help" 0 abbey secret set --help
echo "ok"

#  Kits in the log: `kit load` publishes each definition once (a second load
#  is "unchanged"), refuses new content under a published version and then
#  appends nothing of that load; `kit ls`/`kit show` read them back; a
#  published stack deploys by name from a directory without the files.
source "$(dirname "$0")/lib.sh"
examples="$(cd "$(dirname "$0")/../../../compose/examples" && pwd)"
dev_up

out="$(abbey kit load "$examples")"
expect_eq "published lines" "$(grep -c ': published (seq' <<<"$out")" 8
grep -q "^kit shop/db 15.4-1: published (seq" <<<"$out" || fail "kit load: $out"
expect_eq "8 events" "$(head_seq)" 8
expect_eq "kit.published events" "$(abbey events --type kit.published --json | jq -r .subj | sort | tr '\n' ' ')" \
  "kit/shop/api kit/shop/app kit/shop/db kit/shop/web kit/staging/api kit/staging/app kit/staging/db kit/staging/web "
expect_eq "event data" "$(abbey events --from 1 --json | head -1 | jq -r '.data | keys | join(",")')" "digest,document,name,version"

#  Idempotent.
out="$(abbey kit load "$examples/shop.kit.yaml" "$examples/shop-staging.kit.yaml")"
expect_eq "unchanged lines" "$(grep -c ': unchanged$' <<<"$out")" 8
expect_eq "second load appends nothing" "$(head_seq)" 8

#  New content under a published version is refused, and nothing of that
#  load is appended (not even the new definition beside it).
mkdir -p "$work/k2"
sed 's/POSTGRES_DB: shop/POSTGRES_DB: shop2/' "$examples/shop.kit.yaml" >"$work/k2/shop.kit.yaml"
printf '\nextra:\n  defines: service\n  image: shop/extra:1\n' >>"$work/k2/shop.kit.yaml"
expect_fail "changed version" abbey kit load "$work/k2"
expect_err_has "names kit and version" "exists: kit shop/db version 15.4-1 was published at seq"
expect_err_has "says nothing published" "nothing was published"
expect_eq "refused load appends nothing" "$(head_seq)" 8
expect_fail "compose is no kit" abbey kit load "$examples/webapp/docker-compose.yml"
expect_err_has "compose refused" "is a docker-compose file"
expect_fail "bad kit" abbey kit load "$examples/../testdata/errors/unknown-key.kit.yaml"
expect_err_has "bad kit position" "unknown-key.kit.yaml:5:3"
expect_eq "bad loads append nothing" "$(head_seq)" 8

#  ls and show.
ls="$(abbey kit ls --json)"
expect_eq "kit ls count" "$(jq length <<<"$ls")" 8
expect_eq "kit ls db" "$(jq -r '.[] | select(.name == "shop/db") | "\(.version) \(.defines) \(.versions | length)"' <<<"$ls")" "15.4-1 service 1"
grep -Eq "^shop/app +sha-[0-9a-f]{12} +[0-9a-f]{12} +stack +1 +" <<<"$(abbey kit ls)" || fail "kit ls table: $(abbey kit ls)"
show="$(abbey kit show shop/db --json)"
expect_eq "show version" "$(jq -r .version <<<"$show")" "15.4-1"
expect_eq "show document" "$(jq -r .document.image <<<"$show")" "postgres:15"
expect_eq "show --version" "$(abbey kit show shop/db --version 15.4-1 --json | jq -r .digest)" "$(jq -r .digest <<<"$show")"
expect_eq "staging keeps its ancestors" "$(abbey kit show staging/api --json | jq -r '.document.ancestors | join(",")')" "shop/api"
expect_fail "show unknown" abbey kit show shop/nope
expect_err_has "show unknown names it" 'no kit "shop/nope"'
expect_fail "show unknown version" abbey kit show shop/db --version 9
expect_err_has "unknown version names it" 'has no version "9"'

#  Deploy by published name from a directory without any kit file: the same
#  spec as from the files.
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
out="$("$ABBEY" deploy shop/app --detach)"
grep -q "stack app deployed: version" <<<"$out" || fail "deploy shop/app: $out"
expect_eq "published source" "$("$ABBEY" inspect app --json | jq -r .source)" "kit:shop/app"
grep -q "no changes" <<<"$("$ABBEY" diff "$examples/shop.kit.yaml")" || fail "published and file differ"
#  A derived stack too: its members stand in for their published parents.
"$ABBEY" deploy staging/app --name staging --set api.pool=4 --detach >/dev/null
expect_eq "staging image" "$("$ABBEY" inspect staging --json | jq -r .services.api.image)" "shop/api:1.5-rc1"
expect_eq "staging pool" "$("$ABBEY" inspect staging --json | jq -r .services.api.env.POOL)" "4"
expect_eq "staging connection" "$("$ABBEY" inspect staging --json | jq -r .services.api.connections.db.target)" "db"
expect_fail "unpublished name" "$ABBEY" deploy shop/nope
expect_err_has "unpublished name message" 'no kit "shop/nope" is loaded or published'
expect_eq "deploys appended two events" "$(head_seq)" 10
echo "ok"

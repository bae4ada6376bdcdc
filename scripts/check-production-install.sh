#!/usr/bin/env bash
# What can be checked of the container image without a Docker engine:
#   1. the Dockerfile: multi-stage, every COPY source exists and is not ignored,
#      production dependencies only, a non-root USER, a HEALTHCHECK with node
#      (no curl), the config at /etc/gatehouse/gateway.yaml;
#   2. the image's install, reproduced in a clean directory: package files +
#      `npm ci --omit=dev` + the built dist/, and no dev dependency in it;
#   3. that install run as an unprivileged user (nobody) from a read-only
#      directory: `check` exits 2 on a bad file and 0 against a live provider,
#      `serve` starts, /.gatehouse/healthz and readyz answer 200, `healthcheck`
#      exits 0, and SIGTERM ends it with exit 0.
# Run by .ci/run; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { echo "check-production-install: $*"; }
fail() { echo "check-production-install: FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. Dockerfile
[ -f Dockerfile ] || fail "no Dockerfile"
[ -f .dockerignore ] || fail "no .dockerignore"
[ "$(grep -cE '^FROM ' Dockerfile)" -ge 2 ] || fail "the Dockerfile is not multi-stage"
final_stage=$(awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' Dockerfile)

while read -r _ rest; do
  words=()
  for word in $rest; do [[ $word == --* ]] || words+=("$word"); done
  [ "${#words[@]}" -ge 2 ] || fail "COPY without source and destination: COPY $rest"
  for source in "${words[@]:0:${#words[@]}-1}"; do
    compgen -G "$source" >/dev/null || fail "COPY source '$source' does not exist"
    top=${source%%/*}
    if grep -qxF -e "$top" -e "/$top" .dockerignore; then fail "COPY source '$source' is excluded by .dockerignore"; fi
  done
done < <(grep -E '^COPY ' Dockerfile | grep -v -- '--from=')

user=$(grep -E '^USER ' <<<"$final_stage" | tail -n 1 | awk '{print $2}')
[ -n "$user" ] || fail "the final stage sets no USER (it would run as root)"
case "$user" in root | 0 | 0:*) fail "the final stage runs as root ($user)" ;; esac
health=$(grep -A1 -E '^HEALTHCHECK ' <<<"$final_stage" | tr -d '\\\n')
[ -n "$health" ] || fail "no HEALTHCHECK in the final stage"
grep -qE 'node' <<<"$health" || fail "the HEALTHCHECK does not use node"
if grep -qE 'curl|wget' <<<"$health"; then fail "the HEALTHCHECK needs curl/wget, which the image does not have"; fi
grep -q '/etc/gatehouse/gateway.yaml' <<<"$final_stage" || fail "the config is not at /etc/gatehouse/gateway.yaml"
grep -qE 'npm ci .*--omit=dev' Dockerfile || fail "production dependencies are not installed with npm ci --omit=dev"
if grep -E '^(COPY|ADD) ' <<<"$final_stage" | grep -v -- '--from=' | grep -q node_modules; then fail "node_modules copied from the build context"; fi
for ignored in node_modules .git dist; do grep -qxF "$ignored" .dockerignore || fail ".dockerignore does not exclude $ignored"; done
say "Dockerfile: multi-stage, COPY sources present, USER $user, HEALTHCHECK with node, config at /etc/gatehouse/gateway.yaml"

# ------------------------------------------------- 2. the image's install, clean
[ -f dist/cli.js ] || npm run build --silent
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
app=$work/app
mkdir -p "$app" "$work/etc"
cp package.json package-lock.json gateway.schema.json "$app/"
(cd "$app" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error >/dev/null)
cp -R dist "$app/dist"
for dev in typescript tap @types/node autocannon playwright-core fast-check; do
  [ ! -e "$app/node_modules/$dev" ] || fail "dev dependency $dev is in the production install"
done
node -e "require('$app/node_modules/fastify/package.json')" || fail "fastify missing from the production install"
say "production install: $(ls "$app/node_modules" | wc -l) packages, no dev dependencies"

# ----------------------------------------- 3. run it as nobody, read-only
chmod 755 "$work"
chmod -R a+rX,a-w "$app" "$work/etc"
as_nobody=()
if [ "$(id -u)" = 0 ]; then
  if command -v setpriv >/dev/null 2>&1; then
    as_nobody=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --)
  else
    as_nobody=(runuser -u nobody --)
  fi
else
  say "not root: running as $(id -un) instead of nobody"
fi
run() { (cd "$app" && env -i PATH="$PATH" HOME=/nonexistent "${as_nobody[@]}" "$@"); }
run node -e "require('fs').writeFileSync('probe', 'x')" 2>/dev/null && fail "the app directory is writable by the running user"

# a bad file: exit 2 naming file:line:key
printf 'public_url: http://example.com\nupstream:\n  url: http://127.0.0.1:9\n  timout: 1s\n' >"$work/bad.yaml"
chmod a+r "$work/bad.yaml"
set +e
bad_out=$(run node dist/cli.js check --config "$work/bad.yaml" 2>&1)
bad_code=$?
set -e
[ "$bad_code" = 2 ] || fail "check on a bad file exited $bad_code, not 2: $bad_out"
grep -q "$work/bad.yaml:4:3  upstream.timout: unknown key" <<<"$bad_out" || fail "check did not name file:line:key: $bad_out"

# a live provider and helpdesk for the real run (from the installed dist/ itself)
cat >"$work/helpers.mjs" <<'JS'
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
const { startDemoProvider } = await import(`${process.argv[2]}/dist/demo/provider.js`);
const provider = await startDemoProvider({ port: 0, clients: [{ client_id: 'agent', client_secret: 'agent-secret-0123456789abcdef', redirect_uris: ['http://127.0.0.1/cb'] }] });
const upstream = createServer((req, res) => res.end('helpdesk')).listen(0, '127.0.0.1');
await new Promise((r) => upstream.once('listening', r));
const free = netServer().listen(0, '127.0.0.1');
await new Promise((r) => free.once('listening', r));
const port = free.address().port;
free.close();
console.log(JSON.stringify({ issuer: provider.issuer, upstream: `http://127.0.0.1:${upstream.address().port}`, port }));
JS
chmod a+r "$work/helpers.mjs"
(cd "$app" && exec env -i PATH="$PATH" HOME=/nonexistent "${as_nobody[@]}" node "$work/helpers.mjs" "$app" >"$work/helpers.out" 2>"$work/helpers.err") &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/helpers.out" ] && break; sleep 0.1; done
[ -s "$work/helpers.out" ] || fail "the demo provider did not start: $(cat "$work/helpers.err")"
read -r issuer upstream port < <(node -e "const o=JSON.parse(require('fs').readFileSync('$work/helpers.out','utf8'));console.log(o.issuer,o.upstream,o.port)")

chmod u+w "$work/etc"
cat >"$work/etc/gateway.yaml" <<YAML
public_url: http://127.0.0.1:$port
listen:
  host: 127.0.0.1
  port: $port
upstream:
  url: $upstream
session:
  secret:
    - \${GATEHOUSE_SESSION_SECRET}
realms:
  agent:
    paths: [/]
    callback_path: /login/authenticate-callback/1
    provider:
      issuer: $issuer
      client_id: agent
      client_secret: agent-secret-0123456789abcdef
YAML
chmod -R a+rX,a-w "$work/etc"
secret=GATEHOUSE_SESSION_SECRET=a-production-check-secret-of-32-characters-or-more

set +e
check_out=$(run env "$secret" node dist/cli.js check --config "$work/etc/gateway.yaml" 2>&1)
check_code=$?
set -e
[ "$check_code" = 0 ] || fail "check against the live provider exited $check_code: $check_out"
grep -q "discovery: ok   jwks: ok" <<<"$check_out" || fail "check did not reach discovery and JWKS: $check_out"

(cd "$app" && exec env -i PATH="$PATH" HOME=/nonexistent "$secret" "${as_nobody[@]}" node dist/cli.js serve --config "$work/etc/gateway.yaml" >"$work/serve.log" 2>&1) &
serve_pid=$!
pids+=("$serve_pid")
healthy=""
for _ in $(seq 1 100); do
  if run env "$secret" node dist/cli.js healthcheck --config "$work/etc/gateway.yaml" >/dev/null 2>&1; then healthy=yes; break; fi
  sleep 0.1
done
[ -n "$healthy" ] || fail "serve did not become healthy: $(tail -n 20 "$work/serve.log")"
ready=""
for _ in $(seq 1 50); do
  code=$(node -e "fetch('http://127.0.0.1:$port/.gatehouse/readyz').then(r=>console.log(r.status),()=>console.log(0))")
  if [ "$code" = 200 ]; then ready=yes; break; fi
  sleep 0.2
done
[ -n "$ready" ] || fail "readyz did not answer 200: $(tail -n 20 "$work/serve.log")"
grep -q '"msg":"gatehouse listening"' "$work/serve.log" || fail "no JSON start-up line in the log"
serve_user=$(ps -o user= -p "$serve_pid" | tr -d ' ' || true)

kill -TERM "$serve_pid"
set +e
wait "$serve_pid"
serve_code=$?
set -e
[ "$serve_code" = 0 ] || fail "serve exited $serve_code after SIGTERM: $(tail -n 20 "$work/serve.log")"
say "ran as ${serve_user:-$(id -un)} from a read-only directory: check exit 2/0, serve healthy and ready, healthcheck 0, SIGTERM exit 0"
say "ok"

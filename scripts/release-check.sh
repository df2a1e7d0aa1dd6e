#!/usr/bin/env bash
# Smoke test of a release binary: run it in demo mode from an empty folder (so templates and web
# assets must come from the binary), check /healthz, /readyz, the login page and an asset, then
# stop it with SIGTERM and expect a clean exit.
set -euo pipefail
bin=$(realpath "$1")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
HOSTNAME=127.0.0.1 PORT=0 UMA_DATA_DIR="$dir/data" "$bin" serve >"$dir/log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'Open http://[^ ]*/login' "$dir/log" | head -1 | sed 's/^Open //; s#/login$##; s/localhost/127.0.0.1/') || true
  [ -n "$url" ] && break
  sleep 0.2
done
if [ -z "$url" ]; then
  echo "release-check: the server did not start" >&2
  cat "$dir/log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi
fail() { echo "release-check: $*" >&2; kill "$pid" 2>/dev/null || true; exit 1; }
curl -fsS "$url/healthz" >/dev/null || fail "/healthz failed"
curl -fsS "$url/readyz" | grep -q '"status":"ready"' || fail "/readyz is not ready"
headers=$(curl -fsS -D - -o "$dir/login.html" "$url/login") || fail "/login failed"
echo "$headers" | grep -qi '^content-security-policy:.*nonce-' || fail "no CSP nonce on /login"
grep -q 'name="password"' "$dir/login.html" || fail "the login page has no form"
curl -fsS "$url/assets/main.js" >/dev/null || fail "web assets are not embedded"
curl -fsS "$url/assets/app.css" >/dev/null || fail "the stylesheet is not embedded"
kill -TERM "$pid"
wait "$pid" || fail "the server did not exit cleanly on SIGTERM"
echo "release-check: OK ($url)"

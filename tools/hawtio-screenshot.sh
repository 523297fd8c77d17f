#!/usr/bin/env bash
# Shows Syncwarden in the real Hawtio console, headless, and saves a route diagram with its counters:
# starts the built jar (target/syncwarden.jar) in a scratch folder with a viewer token, the standalone Hawtio
# (tools/hawtio.sh), Debian's chromedriver, and drives Chromium through it (tools/hawtio-screenshot.mjs, Node 18+).
#   mvn -B -ntp package -DskipTests && tools/hawtio-screenshot.sh [route-id] [out.png]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUTE="${1:-alerts}"
OUT="${2:-docs/hawtio-route-diagram.png}"
[ -f target/syncwarden.jar ] || { echo "build first: mvn -B -ntp package -DskipTests" >&2; exit 2; }
for tool in chromium chromedriver node; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install chromium chromium-driver nodejs)" >&2; exit 2; }
done
HOME_DIR=$(mktemp -d)
TOKEN="hawtio-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$HOME_DIR"; }
trap cleanup EXIT

cp -r routes application.properties "$HOME_DIR/"
(cd "$HOME_DIR" && SYNCWARDEN_API_TOKENS="screenshot:viewer:$HASH" exec java -Xmx256m -jar "$OLDPWD/target/syncwarden.jar" \
  > service.log 2>&1) & PIDS+=($!)
tools/hawtio.sh > "$HOME_DIR/hawtio.log" 2>&1 & PIDS+=($!)
chromedriver --port=9515 > "$HOME_DIR/chromedriver.log" 2>&1 & PIDS+=($!)

wait_for() { for _ in $(seq 1 120); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 1; done; echo "no answer from $1" >&2; exit 1; }
wait_for http://127.0.0.1:8081/observe/health
wait_for http://localhost:8090/hawtio/
wait_for http://127.0.0.1:9515/status
sleep 20 # a few alert ticks and the demo sync, so the diagram has counters
node tools/hawtio-screenshot.mjs http://localhost:8090/hawtio 127.0.0.1 8081 "$TOKEN" "$ROUTE" "$OUT"

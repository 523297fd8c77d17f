#!/usr/bin/env bash
# Start-up time: from `java -jar target/syncwarden.jar` to /observe/health answering UP, on the embedded defaults
# (H2 file target, demo replica), each start in a fresh working directory. Prints every start and the median.
# Usage: bench/startup.sh [starts=5]          (builds the jar first when it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-5}"
[ -f target/syncwarden.jar ] || mvn -B -q -ntp package -DskipTests
JAR="$PWD/target/syncwarden.jar"
PORT=18081
times=()
for i in $(seq 1 "$N"); do
  dir=$(mktemp -d)
  sed -e "s/^camel.management.port = .*/camel.management.port = $PORT/" -e "s/^camel.server.port = .*/camel.server.port = 18080/" \
    application.properties >"$dir/application.properties"
  cp -r routes "$dir/"
  start=$(date +%s%N)
  (cd "$dir" && exec java -jar "$JAR" >"$dir/out.log" 2>&1) &
  pid=$!
  until curl -fs "http://127.0.0.1:$PORT/observe/health" 2>/dev/null | grep -q '"status": *"UP"'; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "start $i: the service exited, see $dir/out.log" >&2; exit 1; fi
    sleep 0.02
  done
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  times+=("$ms")
  echo "start $i: health UP after $ms ms"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}')
echo "median of $N starts: $median ms"

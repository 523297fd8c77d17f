#!/usr/bin/env bash
# Benchmark: the sync routes against the best plain-JDBC path of each database, same work, one JVM under -Xmx256m.
# Usage: bench/run.sh [rows=1000000] [h2|pg|both] [runs=3]      (figures go to bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -ntp package -DskipTests
mvn -B -q -ntp dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test
CP="target/classes:$(cat target/bench.cp)"
rm -rf target/bench-classes && mkdir -p target/bench-classes
javac -d target/bench-classes -cp "$CP" bench/src/io/syncwarden/bench/SyncBench.java
exec java -Xmx256m -cp "target/bench-classes:$CP" io.syncwarden.bench.SyncBench "${1:-1000000}" "${2:-both}" "${3:-3}" "${4:-all}"

#!/usr/bin/env bash
# Starts the Hawtio console (the standalone io.hawt:hawtio-app from Maven Central) on http://localhost:8090/hawtio,
# to look at a running Syncwarden through its Jolokia endpoint (127.0.0.1:8081/observe/jolokia).
#
#   tools/hawtio.sh            # then: Connect -> Remote: host 127.0.0.1, port 8081, path /observe/jolokia,
#                              #       user any name, password an API token (viewer reads; admin + writes-enabled acts)
#   HAWTIO_PORT=9090 tools/hawtio.sh
#
# Hawtio 2.17.7 is the newest standalone app Maven serves here; Camel 4.17 pins the Hawtio 4.6 libraries, whose
# standalone app (`jbang app install hawtio@hawtio/hawtio`) connects the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${HAWTIO_VERSION:-2.17.7}"
PORT="${HAWTIO_PORT:-8090}"
JAR="target/tools/hawtio-app-$VERSION.jar"
if [ ! -f "$JAR" ]; then
  mvn -q -ntp dependency:copy -Dartifact="io.hawt:hawtio-app:$VERSION:jar" -DoutputDirectory=target/tools
fi
echo "Hawtio on http://localhost:$PORT/hawtio -> Connect: 127.0.0.1 : 8081 /observe/jolokia, password = an API token"
# Hawtio listens on this machine only, with its own login off (Jolokia behind it asks for the token); its proxy reaches
# only this machine's ports
exec java -Dhawtio.authenticationEnabled=false -Dhawtio.proxyAllowlist=localhost,127.0.0.1 \
  -jar "$JAR" --host 127.0.0.1 --port "$PORT" "$@"

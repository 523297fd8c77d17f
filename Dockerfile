# Syncwarden runtime image. Build the jar first: mvn -B package -DskipTests
FROM eclipse-temurin:17-jre
RUN groupadd --system syncwarden && useradd --system --gid syncwarden --no-create-home --home-dir /app syncwarden
WORKDIR /app
# The application's files belong to root and are read-only to the service user; only data/ (the H2 files) is writable.
COPY target/syncwarden.jar application.properties /app/
COPY routes/ /app/routes/
RUN chown -R root:root /app && chmod 0555 /app /app/routes && chmod 0444 /app/syncwarden.jar /app/application.properties /app/routes/* \
    && mkdir /app/data && chown syncwarden:syncwarden /app/data && chmod 0750 /app/data
USER syncwarden
# 8080: business server; 8081: /observe/* (management), bound to 127.0.0.1 inside the container unless
# CAMEL_MANAGEMENT_HOST=0.0.0.0 is set (then also set credentials, see README "Observing it").
EXPOSE 8080 8081
VOLUME ["/app/data"]
# Liveness only: a failing upstream or a stopped replica must never get the container restarted. Plain bash, no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8081 && printf "GET /observe/health/live HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && head -n1 <&3 | grep -q " 200 "'
# docker stop sends SIGTERM and waits 10 s: running syncs stop at a batch boundary within syncwarden.shutdown.grace-ms (6 s)
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/syncwarden.jar"]

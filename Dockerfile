# Syncwarden runtime image. Build the jar first: mvn -B package -DskipTests
FROM eclipse-temurin:17-jre
RUN groupadd --system syncwarden && useradd --system --gid syncwarden --home-dir /app syncwarden
WORKDIR /app
COPY target/syncwarden.jar /app/syncwarden.jar
COPY application.properties /app/application.properties
COPY routes/ /app/routes/
RUN mkdir -p /app/data && chown -R syncwarden:syncwarden /app
USER syncwarden
# 8080: business server; 8081: /observe/health, /observe/metrics, /observe/jolokia
EXPOSE 8080 8081
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD wget -qO- http://localhost:8081/observe/health || exit 1
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/syncwarden.jar"]

package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import io.syncwarden.sync.SyncTrigger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The OAuth user-credential path of the google-sheets kind: client id and secret with a refresh token, exchanged at
 * the configured token URL; and none of these secrets, nor the access token, ever reaches a log line.
 */
class GoogleSheetsOAuthTest extends UpstreamStubTestSupport {
    private static final String CLIENT_SECRET = "GOCSPX-test-client-secret-9f8e7d";
    private static final String REFRESH_TOKEN = "1//0test-refresh-token-abcdef";
    private static final String ACCESS_TOKEN = "ya29.TEST-not-a-real-token-7f3c9a1e";
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @Override
    protected String testRoutes() {
        return "test-sheets-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        p.put("camel.component.google-sheets.clientId", "1234-test.apps.googleusercontent.com");
        p.put("camel.component.google-sheets.clientSecret", CLIENT_SECRET);
        p.put("camel.component.google-sheets.refreshToken", REFRESH_TOKEN);
        p.put("syncwarden.google.token-url", upstream.baseUrl() + "/oauth2/token");
        p.put("syncwarden.google.root-url", upstream.baseUrl() + "/");
    }

    @BeforeEach
    void captureLogs() {
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    }

    @AfterEach
    void releaseLogs() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    @Test
    void should_exchange_the_refresh_token_and_never_log_a_secret() throws Exception {
        upstream.stubFor(post(urlPathEqualTo("/oauth2/token")).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "application/json")
                .withBody(io.syncwarden.Fixtures.read("sheets/token_response.json"))));
        upstream.stubFor(get(urlPathMatching("/v4/spreadsheets/.*/values/.*")).withHeader("Authorization", equalTo("Bearer " + ACCESS_TOKEN))
                .withQueryParam("valueRenderOption", equalTo("FORMATTED_VALUE"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(io.syncwarden.Fixtures.read("sheets/values_get_leads.json"))));
        upstream.stubFor(get(urlPathMatching("/v4/spreadsheets/.*/values/.*")).withQueryParam("valueRenderOption", equalTo("UNFORMATTED_VALUE"))
                .willReturn(aResponse().withStatus(403).withHeader("Content-Type", "application/json")
                        .withBody(io.syncwarden.Fixtures.read("sheets/error_403.json"))));

        SyncTrigger.Result ok = fire("it-sheet-leads");
        SyncTrigger.Result refused = fire("it-sheet-raw");

        assertThat(run(ok.runId())).containsEntry("status", "success").containsEntry("inserted", 25L);
        assertThat(run(refused.runId())).containsEntry("status", "failed");
        assertThat(upstream.findAll(postRequestedFor(urlPathEqualTo("/oauth2/token"))
                .withRequestBody(containing("grant_type=refresh_token")).withRequestBody(containing("refresh_token=")))).hasSize(1);
        List<String> lines = logs.list.stream().map(GoogleSheetsOAuthTest::render).toList();
        assertThat(lines).isNotEmpty().anySatisfy(l -> assertThat(l).contains("it-sheet-raw"));
        assertThat(lines).noneSatisfy(l -> assertThat(l).containsAnyOf(CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN));
    }

    private static String render(ILoggingEvent e) {
        StringBuilder sb = new StringBuilder(e.getFormattedMessage());
        for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            sb.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
        }
        return sb.toString();
    }
}

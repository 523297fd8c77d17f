package io.syncwarden.source;

import com.google.api.client.googleapis.auth.oauth2.GoogleCredential;
import com.google.api.client.http.HttpRequestInitializer;
import com.google.api.client.http.HttpTransport;
import com.google.api.client.http.javanet.NetHttpTransport;
import com.google.api.client.json.JsonFactory;
import com.google.api.client.json.gson.GsonFactory;
import com.google.api.services.sheets.v4.Sheets;
import io.syncwarden.sync.NonRecoverableSyncException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import org.apache.camel.CamelContext;
import org.apache.camel.component.google.sheets.GoogleSheetsClientFactory;
import org.apache.camel.support.ResourceHelper;

/**
 * Builds the Google Sheets client for camel-google-sheets ({@code camel.component.google-sheets.clientFactory}).
 * Unlike the component's default factory it honours a configurable API root URL and OAuth token URL on both
 * authentication paths (so the real client can be pointed at a proxy or a test stub), accepts a service-account key
 * as a file path or as the key's JSON itself (handy from a secret environment variable), sets timeouts, and fails
 * with a message that says which credential is wrong, never its value.
 */
public final class SheetsClientFactory implements GoogleSheetsClientFactory {
    public static final String GOOGLE_ROOT_URL = Sheets.DEFAULT_ROOT_URL;
    public static final String GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

    private final HttpTransport transport = new NetHttpTransport();
    private final JsonFactory json = new StrictJsonFactory(GsonFactory.getDefaultInstance(), "Google Sheets", true);
    private final JsonFactory tokenJson = new StrictJsonFactory(GsonFactory.getDefaultInstance(), "Google's token endpoint", false);
    private final String rootUrl;
    private final String tokenUrl;
    private final int connectTimeoutMs;
    private final int readTimeoutMs;

    public SheetsClientFactory(String rootUrl, String tokenUrl, int connectTimeoutMs, int readTimeoutMs) {
        this.rootUrl = blank(rootUrl) ? GOOGLE_ROOT_URL : rootUrl.endsWith("/") ? rootUrl : rootUrl + "/";
        this.tokenUrl = blank(tokenUrl) ? GOOGLE_TOKEN_URL : tokenUrl;
        this.connectTimeoutMs = connectTimeoutMs;
        this.readTimeoutMs = readTimeoutMs;
    }

    /** OAuth user credentials: client id and secret with a refresh token (and optionally a current access token). */
    @Override
    public Sheets makeClient(String clientId, String clientSecret, Collection<String> scopes, String applicationName,
                             String refreshToken, String accessToken) {
        if (blank(refreshToken) && blank(accessToken)) {
            throw new NonRecoverableSyncException("Google Sheets OAuth: clientId and clientSecret are set but neither a "
                    + "refresh token nor an access token is (set GOOGLE_REFRESH_TOKEN)");
        }
        GoogleCredential credential = new GoogleTokenCredential(new GoogleCredential.Builder().setTransport(transport)
                .setJsonFactory(tokenJson).setClientSecrets(clientId, clientSecret).setTokenServerEncodedUrl(tokenUrl), this::timeouts);
        if (!blank(refreshToken)) {
            credential.setRefreshToken(refreshToken.trim());
        }
        if (!blank(accessToken)) {
            credential.setAccessToken(accessToken.trim());
        }
        return build(credential, applicationName);
    }

    /** A service account: the key file (path, file:/classpath: resource, or the JSON itself), optionally impersonating. */
    @Override
    public Sheets makeClient(CamelContext context, String serviceAccountKey, Collection<String> scopes,
                             String applicationName, String delegate) {
        GoogleCredential credential;
        try (InputStream key = keyStream(context, serviceAccountKey)) {
            // the key's own token_uri is used for the token exchange
            GoogleCredential read = GoogleCredential.fromStream(key, transport, GsonFactory.getDefaultInstance())
                    .createScoped(scopes == null || scopes.isEmpty() ? null : scopes)
                    .createDelegated(blank(delegate) ? null : delegate.trim());
            // made last: createScoped and createDelegated would return a plain GoogleCredential again
            credential = new GoogleTokenCredential(read.toBuilder().setJsonFactory(tokenJson), this::timeouts);
        } catch (Exception e) {
            // no cause and no exception text: either may quote the key itself (a key taken for a file name)
            throw new NonRecoverableSyncException("Google Sheets: the service-account key could not be read as a key "
                    + "file path, a file:/classpath: resource, its JSON, or its JSON in base64 (" + e.getClass().getSimpleName()
                    + "); check GOOGLE_SERVICE_ACCOUNT_KEY");
        }
        return build(credential, applicationName);
    }

    /** The configured timeouts, on API and token requests alike. */
    private void timeouts(com.google.api.client.http.HttpRequest request) {
        request.setConnectTimeout(connectTimeoutMs);
        request.setReadTimeout(readTimeoutMs);
    }

    private Sheets build(GoogleCredential credential, String applicationName) {
        HttpRequestInitializer init = request -> {
            credential.initialize(request);
            timeouts(request);
        };
        return new Sheets.Builder(transport, json, init).setRootUrl(rootUrl)
                .setApplicationName(blank(applicationName) ? "Syncwarden" : applicationName).build();
    }

    /** The key as given: JSON (optionally quoted, with a BOM, or base64), a resource URI, or a file path. */
    static InputStream keyStream(CamelContext context, String given) throws IOException {
        String key = given.replace("\uFEFF", "").trim();
        if (key.length() > 1 && (key.startsWith("'") && key.endsWith("'") || key.startsWith("\"") && key.endsWith("\""))) {
            key = key.substring(1, key.length() - 1).trim();
        }
        if (key.startsWith("{")) {
            return new ByteArrayInputStream(key.getBytes(StandardCharsets.UTF_8));
        }
        if (key.startsWith("file:") || key.startsWith("classpath:") || key.startsWith("http:") || key.startsWith("https:")) {
            return ResourceHelper.resolveMandatoryResourceAsInputStream(context, key);
        }
        if (key.length() > 200 && key.matches("[A-Za-z0-9+/=_\\-\\s]+")) {
            byte[] decoded = java.util.Base64.getMimeDecoder().decode(key.replace('-', '+').replace('_', '/'));
            return new ByteArrayInputStream(decoded);
        }
        return Files.newInputStream(Path.of(key));
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    public String rootUrl() {
        return rootUrl;
    }
}

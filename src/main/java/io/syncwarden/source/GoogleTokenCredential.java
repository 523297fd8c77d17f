package io.syncwarden.source;

import com.google.api.client.auth.oauth2.TokenRequest;
import com.google.api.client.auth.oauth2.TokenResponse;
import com.google.api.client.auth.oauth2.TokenResponseException;
import com.google.api.client.googleapis.auth.oauth2.GoogleCredential;
import com.google.api.client.http.GenericUrl;
import com.google.api.client.http.HttpRequest;
import com.google.api.client.http.HttpRequestInitializer;
import com.google.api.client.http.HttpResponse;
import com.google.api.client.http.HttpResponseException;
import com.google.api.client.json.webtoken.JsonWebSignature;
import com.google.api.client.json.webtoken.JsonWebToken;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * The Google credential Syncwarden uses on both paths (OAuth refresh token, service-account key). The stock one hides
 * what went wrong: a 5xx from the token endpoint is swallowed and the request goes out without a token, so the
 * failure surfaces as "401 credentials rejected" and is never retried; a 401 makes the client itself refresh and
 * resend up to ten times; the token request ignores the configured timeouts. Here:
 * <ul>
 *   <li>a token endpoint answering anything but 2xx/4xx throws {@link TokenEndpointException} (an HTTP error with
 *       its status, recoverable); a 4xx (invalid_grant, invalid_client) stays a {@link TokenResponseException}
 *       (non-recoverable); a 200 without an access token is a malformed answer;</li>
 *   <li>the client never retries a request itself ({@link #handleResponse} returns false): retries belong to the
 *       shared error handling, which counts and records them; a token refused with a 401 is dropped, so the next
 *       attempt fetches a new one first;</li>
 *   <li>the token request (also the service account's JWT-bearer grant) gets the same timeouts as the API calls.</li>
 * </ul>
 */
final class GoogleTokenCredential extends GoogleCredential {
    private final HttpRequestInitializer timeouts;

    /** A token endpoint outage: carries the HTTP status, so it is classified (and retried) like any 5xx. */
    static final class TokenEndpointException extends HttpResponseException {
        TokenEndpointException(TokenResponseException e) {
            super(new HttpResponseException.Builder(e.getStatusCode(), e.getStatusMessage(), e.getHeaders())
                    .setMessage("Google's token endpoint answered HTTP " + e.getStatusCode() + " "
                            + Objects.toString(e.getStatusMessage(), "")));
            initCause(e);
        }
    }

    GoogleTokenCredential(GoogleCredential.Builder builder, HttpRequestInitializer timeouts) {
        super(builder.setRequestInitializer(timeouts));
        this.timeouts = timeouts;
    }

    @Override
    protected TokenResponse executeRefreshToken() throws IOException {
        try {
            TokenResponse response = getServiceAccountPrivateKey() == null ? super.executeRefreshToken() : serviceAccountGrant();
            if (response != null && (response.getAccessToken() == null || response.getAccessToken().isBlank())) {
                throw new MalformedAnswerException("Google's token endpoint", "a 200 answer without an access_token", null, null);
            }
            return response;
        } catch (TokenResponseException e) {
            if (e.getStatusCode() >= 400 && e.getStatusCode() < 500) {
                throw e;
            }
            throw new TokenEndpointException(e);
        }
    }

    /** The service account's JWT-bearer grant (RFC 7523), as GoogleCredential makes it, with the configured timeouts. */
    private TokenResponse serviceAccountGrant() throws IOException {
        JsonWebSignature.Header header = new JsonWebSignature.Header();
        header.setAlgorithm("RS256");
        header.setType("JWT");
        header.setKeyId(getServiceAccountPrivateKeyId());
        JsonWebToken.Payload payload = new JsonWebToken.Payload();
        long now = getClock().currentTimeMillis() / 1000;
        payload.setIssuer(getServiceAccountId());
        payload.setAudience(getTokenServerEncodedUrl());
        payload.setIssuedAtTimeSeconds(now);
        payload.setExpirationTimeSeconds(now + 3600);
        payload.setSubject(getServiceAccountUser());
        payload.put("scope", getServiceAccountScopesAsString());
        try {
            String assertion = JsonWebSignature.signUsingRsaSha256(getServiceAccountPrivateKey(), getJsonFactory(), header, payload);
            TokenRequest request = new TokenRequest(getTransport(), getJsonFactory(), new GenericUrl(getTokenServerEncodedUrl()),
                    "urn:ietf:params:oauth:grant-type:jwt-bearer").setRequestInitializer(timeouts);
            request.put("assertion", assertion);
            return request.execute();
        } catch (GeneralSecurityException e) {
            throw new IOException("signing the service-account assertion failed (" + e.getClass().getSimpleName() + ")");
        }
    }

    @Override
    public boolean handleResponse(HttpRequest request, HttpResponse response, boolean supportsRetry) {
        if (response.getStatusCode() == 401 && Objects.equals(getAccessToken(), getMethod().getAccessTokenFromRequest(request))) {
            setAccessToken(null);
        }
        return false;
    }
}

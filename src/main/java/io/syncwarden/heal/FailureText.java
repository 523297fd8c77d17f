package io.syncwarden.heal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.api.client.googleapis.json.GoogleJsonResponseException;
import com.google.api.client.http.HttpResponseException;
import org.apache.camel.http.base.HttpOperationFailedException;

/**
 * What a failure says, for run records, logs and health: the upstream's status and its own words, or the exception
 * chain. URLs lose their query strings (they may carry keys) and bodies are never quoted whole.
 */
public final class FailureText {
    private static final ObjectMapper JSON = new ObjectMapper();

    private FailureText() {
    }

    public static String describe(Throwable error) {
        if (error == null) {
            return "unknown error";
        }
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof HttpOperationFailedException http) {
                return "HTTP " + http.getStatusCode() + " " + http.getStatusText()
                        + (http.getStatusCode() == 401 || http.getStatusCode() == 403
                        ? " (the upstream rejected the credentials: check the key/secret)" : "")
                        + " from " + http.getUri().replaceAll("\\?.*", "") + upstreamError(http.getResponseBody());
            }
            if (t instanceof com.google.api.client.auth.oauth2.TokenResponseException token) {
                var details = token.getDetails();
                return "HTTP " + token.getStatusCode() + " from Google's token endpoint"
                        + (details == null ? "" : ": " + truncate((details.getError() + " "
                        + (details.getErrorDescription() == null ? "" : details.getErrorDescription())).trim(), 300))
                        + " (the refresh token, client or service-account key was refused)";
            }
            if (t instanceof HttpResponseException g && String.valueOf(g.getMessage()).startsWith("Google's token endpoint")) {
                return g.getMessage().trim() + " (an outage of Google's sign-in service; retried)";
            }
            if (t instanceof io.github.resilience4j.circuitbreaker.CallNotPermittedException open) {
                // Camel puts a node prefix of its own (route-N) before a templated route's breaker id
                return "the circuit breaker " + open.getCausingCircuitBreakerName().replaceFirst("^route-\\d+", "")
                        + " is open after repeated failures: no request sent; it lets one run through after its cool-down "
                        + "(syncwarden.breaker.open-s)";
            }
            if (t instanceof io.syncwarden.source.MalformedAnswerException malformed) {
                return malformed.getMessage();
            }
            if (t instanceof HttpResponseException g) {
                // its message carries the whole response; keep the status and the API's own words
                return "HTTP " + g.getStatusCode() + " " + (g.getStatusMessage() == null ? "" : g.getStatusMessage())
                        + (g.getStatusCode() == 401 || g.getStatusCode() == 403
                        ? " (the upstream rejected the credentials or their access to this document)" : "")
                        + " from Google" + googleError(g);
            }
        }
        StringBuilder sb = new StringBuilder(error.getClass().getSimpleName()).append(": ").append(error.getMessage());
        Throwable cause = error.getCause();
        for (int depth = 0; cause != null && cause != error && depth < 3; depth++, cause = cause.getCause()) {
            sb.append(" <- ").append(cause.getClass().getSimpleName()).append(": ").append(cause.getMessage());
        }
        return sb.toString();
    }

    /** The upstream's own words from a JSON error body ({@code error.code}/{@code status} and {@code message}). */
    static String upstreamError(String body) {
        if (body == null || body.isBlank() || !body.trim().startsWith("{")) {
            return "";
        }
        try {
            JsonNode error = JSON.readTree(body).path("error");
            String code = error.path("code").isTextual() ? error.path("code").asText() : error.path("status").asText("");
            String message = error.path("message").asText("");
            return code.isEmpty() && message.isEmpty() ? "" : ": " + truncate((code + " " + message).trim(), 300);
        } catch (Exception e) {
            return "";
        }
    }

    private static String googleError(HttpResponseException g) {
        if (g instanceof GoogleJsonResponseException j && j.getDetails() != null) {
            Object status = j.getDetails().get("status");
            String message = j.getDetails().getMessage();
            return ": " + truncate(((status == null ? "" : status + " ") + (message == null ? "" : message)).trim(), 300);
        }
        return upstreamError(g.getContent());
    }

    public static String truncate(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}

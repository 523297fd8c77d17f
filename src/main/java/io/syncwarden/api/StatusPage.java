package io.syncwarden.api;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import org.apache.camel.Exchange;

/**
 * Serves the status page (routes/api.camel.yaml, {@code /} and {@code /assets/*}) from the jar's {@code status/}
 * folder: a fixed set of files, nothing else, with headers that keep it from being framed or sniffed and a content
 * security policy that lets it load only its own script and style. It holds no data: the page reads the API with the
 * token its user enters (kept in the browser's session storage).
 */
public class StatusPage {
    private static final Map<String, String> FILES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "status.css", "text/css; charset=utf-8",
            "status.js", "text/javascript; charset=utf-8");

    /** GET / : the page. */
    public void index(Exchange exchange) throws IOException {
        serve(exchange, "index.html");
    }

    /** GET /assets/{name}: its script and style. */
    public void asset(Exchange exchange) throws IOException {
        String path = exchange.getMessage().getHeader(Exchange.HTTP_PATH, String.class);
        String name = path == null ? "" : path.substring(path.lastIndexOf('/') + 1);
        serve(exchange, name);
    }

    private void serve(Exchange exchange, String name) throws IOException {
        exchange.getMessage().removeHeaders("*", "CamelHttp*");
        String type = FILES.get(name);
        byte[] body = null;
        if (type != null) {
            try (InputStream in = StatusPage.class.getResourceAsStream("/status/" + name)) {
                body = in == null ? null : in.readAllBytes();
            }
        }
        if (body == null) {
            exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 404);
            exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "text/plain; charset=utf-8");
            exchange.getMessage().setBody("not found");
            return;
        }
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, type);
        exchange.getMessage().setHeader("Cache-Control", "no-cache");
        exchange.getMessage().setHeader("X-Content-Type-Options", "nosniff");
        exchange.getMessage().setHeader("X-Frame-Options", "DENY");
        exchange.getMessage().setHeader("Referrer-Policy", "no-referrer");
        exchange.getMessage().setHeader("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "
                + "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
        exchange.getMessage().setBody(body);
    }
}

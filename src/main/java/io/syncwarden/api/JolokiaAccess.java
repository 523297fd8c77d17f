package io.syncwarden.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.component.platform.http.plugin.DefaultJolokiaPlatformHttpPlugin;
import org.apache.camel.component.platform.http.plugin.JolokiaPlatformHttpPlugin;
import org.apache.camel.support.service.ServiceHelper;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Jolokia on the management port ({@code /observe/jolokia}, what Hawtio reads), behind the operations API's access:
 * a bearer token ({@code Authorization: Bearer <token>}) or HTTP Basic whose password is a token (Hawtio's connect
 * dialog has a user and a password field), or the user and password of {@code syncwarden.jolokia.user} /
 * {@code .password} (from the environment) with the role {@code syncwarden.jolokia.role}. No credentials: 401.
 *
 * <p>Reading (list, search, version, read, and the {@code dump...} operations the policy allows) needs {@code viewer}.
 * Anything else, that is starting or stopping a route from Hawtio, needs {@code admin} and
 * {@code syncwarden.jolokia.writes-enabled=true}; it is audited like an API change. Jolokia's own policy
 * ({@code jolokia-access.xml}) still decides what exists at all: attribute writes and sending messages are allowed
 * to nobody. Health ({@code /observe/health}) and metrics are not behind this.
 *
 * <p>Camel takes a {@code jolokia} plugin from the registry before its own; this one wraps Camel's.
 */
public final class JolokiaAccess extends ServiceSupport implements JolokiaPlatformHttpPlugin, CamelContextAware {
    private static final Logger LOG = LoggerFactory.getLogger(JolokiaAccess.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Request types that only read. */
    private static final Set<String> READ_TYPES = Set.of("read", "list", "search", "version");
    /** exec operations that only read (besides every dump...). */
    private static final Set<String> READ_OPERATIONS = Set.of("componentNames", "languageNames", "dataFormatNames",
            "routeIds", "routeGroups", "processorIds", "isUpdateRouteEnabled");

    public record Settings(String user, String password, String userRole, boolean writesEnabled) {
        @Override
        public String toString() {
            return "Settings[user=" + (user == null || user.isBlank() ? "none" : user) + ", password=" + (password == null
                    || password.isEmpty() ? "none" : "***") + ", userRole=" + userRole + ", writesEnabled=" + writesEnabled + "]";
        }
    }

    private final DefaultJolokiaPlatformHttpPlugin jolokia = new DefaultJolokiaPlatformHttpPlugin();
    private final ApiAccess access;
    private final Audit audit;
    private final Settings settings;
    private CamelContext context;

    public JolokiaAccess(ApiAccess access, Audit audit, Settings settings) {
        this.access = access;
        this.audit = audit;
        this.settings = settings;
        if (settings.userRole() != null && !ApiAccess.ROLES.contains(settings.userRole())) {
            throw new IllegalArgumentException("syncwarden.jolokia.role must be viewer, operator or admin, was '"
                    + settings.userRole() + "'");
        }
    }

    @Override
    public String getId() {
        return NAME;
    }

    @Override
    public void setCamelContext(CamelContext camelContext) {
        this.context = camelContext;
        jolokia.setCamelContext(camelContext);
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    @Override
    protected void doStart() {
        ServiceHelper.startService(jolokia);
        if (!access.configured() && !userConfigured()) {
            LOG.info("Jolokia (/observe/jolokia): no credentials configured (SYNCWARDEN_API_TOKENS, or SYNCWARDEN_JOLOKIA_USER "
                    + "and SYNCWARDEN_JOLOKIA_PASSWORD): every request gets 401");
        } else {
            LOG.info("Jolokia (/observe/jolokia): API tokens{} accepted; viewers read, {}", userConfigured()
                    ? " and user '" + settings.user() + "' (" + settings.userRole() + ")" : "",
                    settings.writesEnabled() ? "admins may also start and stop routes" : "nobody writes (syncwarden.jolokia.writes-enabled=false)");
        }
    }

    @Override
    protected void doStop() {
        ServiceHelper.stopService(jolokia);
    }

    private boolean userConfigured() {
        return settings.user() != null && !settings.user().isBlank() && settings.password() != null
                && !settings.password().isEmpty();
    }

    @Override
    @SuppressWarnings("unchecked")
    public Object getHandler() {
        Handler<RoutingContext> inner = (Handler<RoutingContext>) jolokia.getHandler();
        return (Handler<RoutingContext>) rc -> {
            ApiAccess.Caller caller = caller(rc.request().getHeader("Authorization"));
            if (caller == null) {
                refuse(rc, 401, "credentials needed: Authorization: Bearer <API token>, or Basic with the token as password");
                return;
            }
            List<String> writes;
            try {
                writes = writes(rc);
            } catch (RuntimeException e) {
                refuse(rc, 400, "not a Jolokia request: " + e.getMessage());
                return;
            }
            if (!writes.isEmpty()) {
                if (!settings.writesEnabled() || !caller.may("admin")) {
                    audit.record(caller.name(), caller.role(), "jolokia_exec", String.join(" ", writes), "denied",
                            settings.writesEnabled() ? "admin role needed" : "syncwarden.jolokia.writes-enabled is false");
                    refuse(rc, 403, settings.writesEnabled() ? "operations that change something need the admin role"
                            : "Jolokia is read-only here (syncwarden.jolokia.writes-enabled=false)");
                    return;
                }
                audit.record(caller.name(), caller.role(), "jolokia_exec", String.join(" ", writes), "done", null);
            }
            inner.handle(rc);
        };
    }

    /** The caller: bearer token, Basic with a token as password, or the configured user. */
    ApiAccess.Caller caller(String header) {
        if (header == null) {
            return null;
        }
        if (header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return access.byToken(header.substring(7).strip());
        }
        if (!header.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(header.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return null;
        }
        String user = decoded.substring(0, colon);
        String password = decoded.substring(colon + 1);
        if (userConfigured() && MessageDigest.isEqual(user.getBytes(StandardCharsets.UTF_8), settings.user().getBytes(StandardCharsets.UTF_8))
                & MessageDigest.isEqual(password.getBytes(StandardCharsets.UTF_8), settings.password().getBytes(StandardCharsets.UTF_8))) {
            return new ApiAccess.Caller(user, settings.userRole());
        }
        return access.byToken(password);
    }

    /** The operations of this request that would change something (empty: it only reads). */
    static List<String> writes(RoutingContext rc) {
        List<String> out = new ArrayList<>();
        if (rc.request().method() == HttpMethod.GET) {
            // GET <prefix>/<type>/<mbean>/<operation>/...
            String path = rc.request().path();
            int at = path.indexOf("/jolokia");
            String rest = at < 0 ? "" : path.substring(at + "/jolokia".length());
            String[] parts = rest.replaceFirst("^/+", "").split("/");
            String type = parts.length == 0 ? "" : parts[0].toLowerCase(Locale.ROOT);
            if (!type.isEmpty() && !READ_TYPES.contains(type)) {
                String operation = "exec".equals(type) && parts.length > 2 ? parts[2] : "";
                if (!"exec".equals(type) || !readOperation(operation)) {
                    out.add(type + (operation.isEmpty() ? "" : " " + operation));
                }
            }
            return out;
        }
        JsonNode body;
        try {
            body = JSON.readTree(rc.body() == null || rc.body().buffer() == null ? new byte[0] : rc.body().buffer().getBytes());
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("the body is not JSON");
        }
        if (body == null) {
            throw new IllegalArgumentException("empty body");
        }
        for (JsonNode request : body.isArray() ? body : List.of(body)) {
            String type = request.path("type").asText("").toLowerCase(Locale.ROOT);
            if (READ_TYPES.contains(type)) {
                continue;
            }
            String operation = request.path("operation").asText("");
            if ("exec".equals(type) && readOperation(operation)) {
                continue;
            }
            out.add(type + " " + request.path("mbean").asText("") + (operation.isEmpty() ? "" : " " + operation));
        }
        return out;
    }

    private static boolean readOperation(String operation) {
        String name = operation.contains("(") ? operation.substring(0, operation.indexOf('(')) : operation;
        return name.startsWith("dump") || READ_OPERATIONS.contains(name);
    }

    private static void refuse(RoutingContext rc, int status, String message) {
        var response = rc.response().setStatusCode(status).putHeader("Content-Type", "application/json")
                .putHeader("Cache-Control", "no-store");
        if (status == 401) {
            response.putHeader("WWW-Authenticate", "Basic realm=\"syncwarden-jolokia\"");
        }
        response.end(JSON.createObjectNode().put("status", status).put("error", message).toString());
    }
}

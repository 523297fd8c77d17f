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
 * <p>Any token reads, under Jolokia's read-only policy ({@code jolokia-access.xml}: no attribute writes, no sending,
 * no operation that changes anything; refusals come back as Jolokia answers with status 403, as Hawtio expects).
 * The one change allowed, starting or stopping a route from Hawtio, is done here (Camel's route controller, as the
 * route MBean would) for {@code admin} callers and only with {@code syncwarden.jolokia.writes-enabled=true}; every
 * attempt is audited. Health ({@code /observe/health}) and metrics are not behind this.
 *
 * <p>Camel takes a {@code jolokia} plugin from the registry before its own; this one wraps Camel's.
 */
public final class JolokiaAccess extends ServiceSupport implements JolokiaPlatformHttpPlugin, CamelContextAware {
    private static final Logger LOG = LoggerFactory.getLogger(JolokiaAccess.class);
    private static final ObjectMapper JSON = new ObjectMapper();

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
            List<RouteAction> actions;
            try {
                actions = routeActions(rc);
            } catch (RuntimeException e) {
                refuse(rc, 400, "not a Jolokia request: " + e.getMessage());
                return;
            }
            if (actions.isEmpty()) {
                inner.handle(rc); // everything else: Jolokia under its read-only policy
                return;
            }
            if (actions.size() > MAX_ACTIONS) {
                refuse(rc, 400, "at most " + MAX_ACTIONS + " route starts or stops in one request");
                return;
            }
            if (!fromLocalPage(rc)) {
                // the same rule Jolokia's policy applies to everything it answers: no page of another site may act
                refuse(rc, 403, "route starts and stops must come from a page on localhost (Origin or Referer)");
                return;
            }
            for (RouteAction a : actions) {
                if (!settings.writesEnabled() || !caller.may("admin")) {
                    audit.record(caller.name(), caller.role(), "jolokia_" + a.operation(), a.routeId(), "denied",
                            settings.writesEnabled() ? "admin role needed" : "syncwarden.jolokia.writes-enabled is false");
                }
            }
            if (!settings.writesEnabled() || !caller.may("admin")) {
                answer(rc, actions, a -> denied(a, settings.writesEnabled() ? "starting or stopping a route needs the admin role"
                        : "Jolokia is read-only here (syncwarden.jolokia.writes-enabled=false)"));
                return;
            }
            answer(rc, actions, a -> perform(caller, a));
        };
    }

    /** A route start or stop asked through Jolokia (Hawtio's buttons): the only changes Jolokia may make here. */
    record RouteAction(JsonNode request, String routeId, String operation) {
    }

    private com.fasterxml.jackson.databind.node.ObjectNode denied(RouteAction a, String why) {
        com.fasterxml.jackson.databind.node.ObjectNode out = JSON.createObjectNode();
        out.set("request", a.request());
        out.put("error_type", "java.lang.SecurityException");
        out.put("error", why);
        out.put("status", 403);
        return out;
    }

    /** Starts or stops the route (Camel's route controller, as the MBean would), audited before and after. */
    private com.fasterxml.jackson.databind.node.ObjectNode perform(ApiAccess.Caller caller, RouteAction a) {
        long entry;
        try {
            entry = audit.begin(caller.name(), caller.role(), "jolokia_" + a.operation(), a.routeId());
        } catch (java.sql.SQLException e) {
            return denied(a, "not done: the audit log cannot be written");
        }
        try {
            if (context.getRoute(a.routeId()) == null) {
                audit.finish(entry, "refused", "no such route");
                com.fasterxml.jackson.databind.node.ObjectNode out = denied(a, "no route " + a.routeId());
                out.put("status", 404);
                return out;
            }
            if ("stop".equals(a.operation())) {
                context.getRouteController().stopRoute(a.routeId());
            } else {
                context.getRouteController().startRoute(a.routeId());
            }
            audit.finish(entry, "done", null);
            LOG.info("Route {} {} through Jolokia by {} ({})", a.routeId(), "stop".equals(a.operation()) ? "stopped" : "started",
                    caller.name(), caller.role());
            com.fasterxml.jackson.databind.node.ObjectNode out = JSON.createObjectNode();
            out.set("request", a.request());
            out.putNull("value");
            out.put("timestamp", System.currentTimeMillis() / 1000);
            out.put("status", 200);
            return out;
        } catch (Exception e) {
            audit.finish(entry, "failed", e.getMessage());
            com.fasterxml.jackson.databind.node.ObjectNode out = denied(a, "failed: " + e.getMessage());
            out.put("error_type", e.getClass().getName());
            out.put("status", 500);
            return out;
        }
    }

    private static void answer(RoutingContext rc, List<RouteAction> actions,
                               java.util.function.Function<RouteAction, com.fasterxml.jackson.databind.node.ObjectNode> each) {
        String body;
        if (actions.size() == 1 && !Boolean.TRUE.equals(rc.get(BULK))) {
            body = each.apply(actions.get(0)).toString();
        } else {
            com.fasterxml.jackson.databind.node.ArrayNode all = JSON.createArrayNode();
            actions.forEach(a -> all.add(each.apply(a)));
            body = all.toString();
        }
        rc.response().setStatusCode(200).putHeader("Content-Type", "application/json").putHeader("Cache-Control", "no-store")
                .end(body);
    }

    private static final String BULK = "syncwarden.jolokia.bulk";
    private static final int MAX_ACTIONS = 20;

    /** Origin (or, without one, Referer) names a page on this machine: what jolokia-access.xml's CORS rule allows. */
    static boolean fromLocalPage(RoutingContext rc) {
        String from = rc.request().getHeader("Origin");
        if (from == null || from.isBlank() || "null".equals(from)) {
            from = rc.request().getHeader("Referer");
        }
        if (from == null || from.isBlank()) {
            return false;
        }
        try {
            java.net.URI uri = java.net.URI.create(from.strip());
            String host = uri.getHost();
            return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                    && ("localhost".equals(host) || "127.0.0.1".equals(host));
        } catch (IllegalArgumentException e) {
            return false;
        }
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

    /**
     * The route starts and stops of this request, when it is made of nothing else (a request that mixes them with
     * other operations goes to Jolokia, whose policy refuses the changes in it).
     */
    static List<RouteAction> routeActions(RoutingContext rc) {
        List<JsonNode> requests = new ArrayList<>();
        if (rc.request().method() == HttpMethod.GET) {
            // GET <prefix>/exec/<mbean>/<operation>
            String path = rc.request().path();
            int at = path.indexOf("/jolokia");
            String[] parts = (at < 0 ? "" : path.substring(at + "/jolokia".length())).replaceFirst("^/+", "").split("/");
            if (parts.length >= 3 && "exec".equalsIgnoreCase(parts[0])) {
                requests.add(JSON.createObjectNode().put("type", "exec")
                        .put("mbean", java.net.URLDecoder.decode(parts[1], StandardCharsets.UTF_8)).put("operation", parts[2]));
            }
        } else {
            JsonNode body;
            try {
                body = JSON.readTree(rc.body() == null || rc.body().buffer() == null ? new byte[0] : rc.body().buffer().getBytes());
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("the body is not JSON");
            }
            if (body == null) {
                throw new IllegalArgumentException("empty body");
            }
            if (body.isArray()) {
                rc.put(BULK, true);
                body.forEach(requests::add);
            } else {
                requests.add(body);
            }
        }
        List<RouteAction> actions = new ArrayList<>();
        for (JsonNode r : requests) {
            String operation = r.path("operation").asText("").replace(" ", "");
            String routeId = routeId(r.path("mbean").asText(""));
            if (!"exec".equalsIgnoreCase(r.path("type").asText("")) || routeId == null
                    || !("stop()".equals(operation) || "stop".equals(operation) || "start()".equals(operation) || "start".equals(operation))) {
                return List.of();
            }
            actions.add(new RouteAction(r, routeId, operation.replace("()", "")));
        }
        return actions;
    }

    /** The route id of a routes MBean name ({@code org.apache.camel:context=...,type=routes,name="id"}), else null. */
    static String routeId(String mbean) {
        try {
            javax.management.ObjectName name = new javax.management.ObjectName(mbean);
            if (!"org.apache.camel".equals(name.getDomain()) || !"routes".equals(name.getKeyProperty("type"))
                    || name.getKeyProperty("name") == null) {
                return null;
            }
            String id = name.getKeyProperty("name");
            return id.startsWith("\"") ? javax.management.ObjectName.unquote(id) : id;
        } catch (javax.management.MalformedObjectNameException | IllegalArgumentException e) {
            return null;
        }
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

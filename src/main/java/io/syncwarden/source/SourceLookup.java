package io.syncwarden.source;

import io.syncwarden.sync.SourceRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.Processor;
import org.apache.camel.Route;
import org.apache.camel.ServiceStatus;
import org.apache.camel.component.bean.BeanProcessor;

/**
 * "Find the record whose name or e-mail is X" in the upstreams themselves, for diagnostics (bean
 * {@code sourceLookup}): {@link #find} asks every running source, {@link #findIn} one source. Each source kind
 * answers through its own reader ({@link SyncSource#find}), with the same client and credentials as its sync.
 */
public class SourceLookup {
    private final CamelContext context;
    private final java.util.function.Function<Throwable, String> describe;

    /** {@code describe}: the text of an upstream's failure for people (the error handling's, without secrets). */
    public SourceLookup(CamelContext context, java.util.function.Function<Throwable, String> describe) {
        this.context = context;
        this.describe = describe;
    }

    /** Every running source: source id to its matching records, or to {@code {"error": "..."}} when it could not answer. */
    public Map<String, Object> find(String nameOrEmail) {
        requireText(nameOrEmail);
        Map<String, Object> out = new LinkedHashMap<>();
        SourceRegistry registry = context.getRegistry().findSingleByType(SourceRegistry.class);
        for (SourceRegistry.Source s : registry.sources()) {
            ServiceStatus status = context.getRouteController().getRouteStatus(s.id());
            if (status == null || !status.isStarted()) {
                continue; // a stopped source is not configured to talk to its upstream
            }
            try {
                out.put(s.id(), findIn(s.id(), nameOrEmail));
            } catch (Exception e) {
                out.put(s.id(), Map.of("error", describe.apply(e)));
            }
        }
        return out;
    }

    /** The matching records of one source (at most {@link SyncSource#LOOKUP_LIMIT}). */
    public List<Map<String, Object>> findIn(String sourceId, String nameOrEmail) throws Exception {
        requireText(nameOrEmail);
        return source(sourceId).find(context, nameOrEmail.trim());
    }

    /** The reader behind a source's route: the template's local {@code source} bean its steps call. */
    SyncSource source(String sourceId) {
        Route route = context.getRoute(sourceId);
        if (route != null) {
            for (Processor p : route.filter("*")) {
                if (p instanceof BeanProcessor bean && bean.getBean() instanceof SyncSource source) {
                    return source;
                }
            }
        }
        throw new IllegalArgumentException("No source '" + sourceId + "'");
    }

    private static void requireText(String nameOrEmail) {
        if (nameOrEmail == null || nameOrEmail.isBlank()) {
            throw new IllegalArgumentException("Give a name or an e-mail address to look up");
        }
    }
}

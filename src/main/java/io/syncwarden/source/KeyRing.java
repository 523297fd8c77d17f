package io.syncwarden.source;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * The API keys of one HTTP source (a comma-separated list from the environment). A key the upstream rate-limited
 * rests until its reset; requests use the first key that is not resting, so a second key takes over at once. Keys are
 * only ever named by position ("key 2 of 3"), never by value, in logs and messages.
 */
public final class KeyRing {
    private final List<String> keys;
    private final Instant[] restUntil;
    private volatile int lastUsed = -1;

    public KeyRing(String csv) {
        this.keys = csv == null ? List.of() : Arrays.stream(csv.split(",")).map(String::trim).filter(k -> !k.isEmpty()).toList();
        this.restUntil = new Instant[keys.size()];
    }

    public int size() {
        return keys.size();
    }

    /** The position of the first key not resting at {@code now}, or -1 when every key rests. */
    public synchronized int pick(Instant now) {
        for (int i = 0; i < keys.size(); i++) {
            if (restUntil[i] == null || !restUntil[i].isAfter(now)) {
                return i;
            }
        }
        return -1;
    }

    public String key(int position) {
        if (keys.isEmpty()) {
            throw new io.syncwarden.sync.NonRecoverableSyncException("no API key is configured (the key setting is empty "
                    + "or only commas)");
        }
        return keys.get(position);
    }

    /** The key the latest request took (one run per source at a time, so the one a failure answered), -1 before any. */
    public int lastUsed() {
        return lastUsed;
    }

    /** The key for the next request: the first not resting (the first of all when every key rests); remembered. */
    public String next(Instant now) {
        int position = Math.max(0, pick(now));
        lastUsed = position;
        return key(position);
    }

    /** The key a side request (a probe, a lookup) takes: the first not resting; the run's key is left as it was. */
    public String peek(Instant now) {
        return key(Math.max(0, pick(now)));
    }

    /** The key at this position rests until the upstream's reset. */
    public synchronized void rest(int position, Instant until) {
        if (position >= 0 && position < restUntil.length && (restUntil[position] == null || until.isAfter(restUntil[position]))) {
            restUntil[position] = until;
        }
    }

    /** When the first resting key is usable again (null when none rests). */
    public synchronized Instant earliestReset(Instant now) {
        Instant earliest = null;
        for (Instant until : restUntil) {
            if (until != null && until.isAfter(now) && (earliest == null || until.isBefore(earliest))) {
                earliest = until;
            }
        }
        return earliest;
    }

    /** Each key by position ("key 1 of 2", never its value) and until when it rests (null: usable). */
    public synchronized java.util.List<java.util.Map<String, Object>> states() {
        java.util.List<java.util.Map<String, Object>> out = new java.util.ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            java.util.Map<String, Object> state = new java.util.LinkedHashMap<>();
            state.put("key", name(i));
            state.put("restingUntil", restUntil[i] == null || !restUntil[i].isAfter(Instant.now()) ? null : restUntil[i].toString());
            out.add(state);
        }
        return out;
    }

    /** "key 2 of 3": how a key is named in logs. */
    public String name(int position) {
        return "key " + (position + 1) + " of " + keys.size();
    }
}

package io.syncwarden.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import org.apache.camel.Exchange;

/**
 * Who may call the operations API: bearer tokens, configured only as SHA-256 hashes with a name and a role
 * ({@code syncwarden.api.tokens}: {@code name:role:sha256hex} entries separated by commas or semicolons; the token
 * itself is never stored). Roles rise {@code viewer} (read) < {@code operator} (sync, pause, resume, backfill up to
 * 90 days, acknowledge) < {@code admin} (everything). No or an unknown token: 401; too low a role: 403.
 */
public class ApiAccess {
    public static final List<String> ROLES = List.of("viewer", "operator", "admin");

    /** A configured token: its name (for the audit log), role and hash. */
    public record Token(String name, String role, byte[] hash) {
    }

    /** The caller as authenticated. */
    public record Caller(String name, String role) {
        public boolean may(String needed) {
            return ROLES.contains(role) && ROLES.contains(needed) && ROLES.indexOf(role) >= ROLES.indexOf(needed);
        }
    }

    private final List<Token> tokens;

    public ApiAccess(String configured) {
        this.tokens = parse(configured);
    }

    /** Parses the configured tokens; an entry that is not {@code name:role:<64 hex>} fails start-up, naming it by position. */
    static List<Token> parse(String configured) {
        List<Token> out = new ArrayList<>();
        if (configured == null || configured.isBlank()) {
            return out;
        }
        String[] entries = configured.split("[,;\\n]");
        for (int i = 0; i < entries.length; i++) {
            String entry = entries[i].strip();
            if (entry.isEmpty()) {
                continue;
            }
            String[] parts = entry.split(":");
            if (parts.length != 3 || parts[0].isBlank() || !ROLES.contains(parts[1].strip().toLowerCase(Locale.ROOT))
                    || !parts[2].strip().matches("(?i)[0-9a-f]{64}")) {
                throw new IllegalArgumentException("syncwarden.api.tokens: entry " + (i + 1) + " is not name:role:sha256hex with role "
                        + "viewer, operator or admin (hash a token with: printf %s \"$TOKEN\" | sha256sum)");
            }
            out.add(new Token(parts[0].strip(), parts[1].strip().toLowerCase(Locale.ROOT), HexFormat.of().parseHex(parts[2].strip())));
        }
        return out;
    }

    public boolean configured() {
        return !tokens.isEmpty();
    }

    /** The caller of this request, or null without a valid bearer token. */
    public Caller caller(Exchange exchange) {
        String header = exchange.getMessage().getHeader("Authorization", String.class);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return byToken(header.substring(7).strip());
    }

    /** The caller a token stands for, or null (every configured hash is compared, in constant time). */
    public Caller byToken(String token) {
        if (token == null || token.isEmpty()) {
            return null;
        }
        byte[] hash = sha256(token);
        Caller found = null;
        for (Token t : tokens) {
            if (MessageDigest.isEqual(t.hash(), hash) && found == null) { // every hash compared: no timing hint
                found = new Caller(t.name(), t.role());
            }
        }
        return found;
    }

    /** The caller, who must have at least {@code role}: 401 without a valid token, 403 with too low a role. */
    public Caller require(Exchange exchange, String role) {
        Caller caller = caller(exchange);
        if (caller == null) {
            throw new ApiException(401, "a valid bearer token is required (Authorization: Bearer <token>)");
        }
        if (!caller.may(role)) {
            throw new ApiException(403, "this needs the role " + role + "; token " + caller.name() + " has " + caller.role());
        }
        return caller;
    }

    static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package io.syncwarden.api;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Who may fire a source from outside without a bearer token: an external scheduler that signs its request.
 *
 * <p><b>QStash</b> ({@code Upstash-Signature}): an HS256 JWT keyed with the signing key's UTF-8 bytes, checked as
 * Upstash's SDK checks it: signature, {@code iss} = {@code Upstash}, {@code exp} and {@code nbf} (no tolerance by
 * default) with the current key, and on any failure again with the next key (keys rotate); then {@code sub} = the
 * called URL (the service's public base URL plus the path) and {@code body} = base64url SHA-256 of the raw body
 * (padding ignored). Only HS256 is accepted.
 *
 * <p><b>HMAC</b> (other schedulers): {@code X-Syncwarden-Timestamp} (unix seconds) and {@code X-Syncwarden-Signature:
 * sha256=<hex>} = HMAC-SHA256 of {@code <timestamp>.<path>.<raw body>} (the path as called, {@code /api/triggers/<id>},
 * so a signature fires one source only) with the shared secret (at least 32 bytes); the timestamp must be within the
 * window (5 minutes) of now, and a signature is accepted once across every node (a replay inside the window is
 * refused too).
 */
public class SignedTriggers {
    private final String currentKey;
    private final String nextKey;
    private final String hmacSecret;
    private final String publicUrl;
    private final Duration window;
    private volatile Clock clock = Clock.systemUTC();
    /** HMAC signatures seen within the window: each is accepted once (in memory unless a shared store is given). */
    private final Map<String, Instant> seen = new ConcurrentHashMap<>();
    /** True the first time a signature is offered (the service shares it through the database); null: {@link #seen}. */
    private volatile java.util.function.BiPredicate<String, Instant> firstTime;

    public SignedTriggers(String currentKey, String nextKey, String hmacSecret, String publicUrl, Duration window) {
        this.currentKey = blankToNull(currentKey);
        this.nextKey = blankToNull(nextKey);
        this.hmacSecret = blankToNull(hmacSecret);
        this.publicUrl = publicUrl == null ? "" : publicUrl.replaceAll("/+$", "");
        this.window = window;
        if (this.hmacSecret != null && this.hmacSecret.getBytes(StandardCharsets.UTF_8).length < 32) {
            throw new IllegalArgumentException("SYNCWARDEN_TRIGGER_HMAC_SECRET must be at least 32 bytes (openssl rand -hex 32)");
        }
        for (String key : new String[] {this.currentKey, this.nextKey}) {
            if (key != null && key.getBytes(StandardCharsets.UTF_8).length < 32) {
                throw new IllegalArgumentException("a QStash signing key must be at least 32 bytes (QStash keys are); check "
                        + "QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY");
            }
        }
    }

    public void clock(Clock clock) {
        this.clock = clock;
    }

    /** Where seen signatures are kept so that every node refuses a replay (the database); tests keep them in memory. */
    public void firstTime(java.util.function.BiPredicate<String, Instant> store) {
        this.firstTime = store;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    public boolean configured() {
        return currentKey != null || hmacSecret != null;
    }

    /**
     * Verifies a signed trigger of {@code path} (as called, e.g. {@code /api/triggers/finale-stock}); who signed it
     * ({@code qstash} or {@code hmac}); an {@link ApiException} 401 naming what is wrong otherwise.
     */
    public String verify(String path, String upstashSignature, String timestamp, String signature, byte[] body) {
        if (upstashSignature != null && !upstashSignature.isBlank()) {
            if (currentKey == null) {
                throw new ApiException(401, "QStash signatures are not configured (QSTASH_CURRENT_SIGNING_KEY)");
            }
            verifyQStash(upstashSignature.strip(), publicUrl + path, body);
            return "qstash";
        }
        if (signature != null && !signature.isBlank()) {
            if (hmacSecret == null) {
                throw new ApiException(401, "HMAC signatures are not configured (SYNCWARDEN_TRIGGER_HMAC_SECRET)");
            }
            verifyHmac(timestamp, signature.strip(), path, body);
            return "hmac";
        }
        throw new ApiException(401, "a signed trigger needs Upstash-Signature, or X-Syncwarden-Timestamp and X-Syncwarden-Signature");
    }

    /** The QStash check, as its SDK does it; throws 401 with the reason of the first key's failure otherwise. */
    void verifyQStash(String token, String url, byte[] body) {
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (java.text.ParseException e) {
            throw new ApiException(401, "Upstash-Signature is not a JWT");
        }
        if (!JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm())) {
            throw new ApiException(401, "Upstash-Signature must be HS256");
        }
        List<String> failures = new ArrayList<>();
        JWTClaimsSet claims = null;
        for (String key : new String[] {currentKey, nextKey}) {
            if (key == null) {
                continue;
            }
            String why = signedAndCurrent(jwt, key);
            if (why == null) {
                try {
                    claims = jwt.getJWTClaimsSet();
                } catch (java.text.ParseException e) {
                    throw new ApiException(401, "Upstash-Signature claims do not parse");
                }
                break;
            }
            failures.add(why);
        }
        if (claims == null) {
            throw new ApiException(401, "Upstash-Signature refused: " + failures.get(0));
        }
        if (!url.equals(claims.getSubject())) {
            throw new ApiException(401, "Upstash-Signature refused: it was signed for another URL (sub)");
        }
        Object bodyClaim = claims.getClaim("body");
        String expected = Base64.getUrlEncoder().withoutPadding().encodeToString(sha256(body));
        if (!(bodyClaim instanceof String b) || !MessageDigest.isEqual(b.replaceAll("=+$", "").getBytes(StandardCharsets.UTF_8),
                expected.getBytes(StandardCharsets.UTF_8))) {
            throw new ApiException(401, "Upstash-Signature refused: the body does not match its hash (body)");
        }
    }

    /** Null when the token is signed with this key, issued by Upstash and valid now; else why not. */
    private String signedAndCurrent(SignedJWT jwt, String key) {
        try {
            if (!jwt.verify(new MACVerifier(key.getBytes(StandardCharsets.UTF_8)))) {
                return "bad signature";
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            if (!"Upstash".equals(claims.getIssuer())) {
                return "issuer is not Upstash (iss)";
            }
            Instant now = clock.instant();
            Date exp = claims.getExpirationTime();
            if (exp == null || !now.isBefore(exp.toInstant())) {
                return "expired (exp)";
            }
            Date nbf = claims.getNotBeforeTime();
            if (nbf != null && now.isBefore(nbf.toInstant())) {
                return "not valid yet (nbf)";
            }
            return null;
        } catch (Exception e) {
            return "unverifiable (" + e.getClass().getSimpleName() + ")";
        }
    }

    /** The HMAC check: fresh timestamp, matching signature, not seen before. */
    void verifyHmac(String timestamp, String signature, String path, byte[] body) {
        long ts;
        Instant at;
        try {
            ts = Long.parseLong(timestamp == null ? "" : timestamp.strip());
            at = Instant.ofEpochSecond(ts);
        } catch (NumberFormatException | java.time.DateTimeException e) {
            throw new ApiException(401, "X-Syncwarden-Timestamp must be unix seconds");
        }
        Instant now = clock.instant();
        if (Duration.between(at, now).abs().compareTo(window) > 0) {
            throw new ApiException(401, "X-Syncwarden-Timestamp is outside the " + window.toMinutes() + "-minute window (a replay, "
                    + "or a clock off)");
        }
        String given = signature.startsWith("sha256=") ? signature.substring(7) : signature;
        byte[] expected;
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(hmacSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update((ts + "." + path + ".").getBytes(StandardCharsets.UTF_8));
            expected = mac.doFinal(body);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        byte[] provided;
        try {
            provided = HexFormat.of().parseHex(given.toLowerCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ApiException(401, "X-Syncwarden-Signature must be sha256=<hex>");
        }
        if (!MessageDigest.isEqual(expected, provided)) {
            throw new ApiException(401, "X-Syncwarden-Signature does not match");
        }
        String key = given.toLowerCase(java.util.Locale.ROOT);
        boolean first;
        if (firstTime != null) {
            first = firstTime.test(key, now);
        } else {
            seen.values().removeIf(t -> t.isBefore(now.minus(window.multipliedBy(2))));
            first = seen.putIfAbsent(key, now) == null;
        }
        if (!first) {
            throw new ApiException(401, "this signed request was seen already (a replay)");
        }
    }

    static byte[] sha256(byte[] body) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(body == null ? new byte[0] : body);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}

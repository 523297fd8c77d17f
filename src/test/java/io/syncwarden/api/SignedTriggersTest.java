package io.syncwarden.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncwarden.Fixtures;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The signed-trigger checks against the QStash fixture (tokens signed with made-up keys, the clock pinned to its now). */
class SignedTriggersTest {
    private static final String HMAC_SECRET = "hmac-shared-secret-for-tests-0123456789";
    private final JsonNode fixture;
    private final SignedTriggers triggers;
    private final byte[] body;
    private final String path;

    SignedTriggersTest() throws Exception {
        fixture = new ObjectMapper().readTree(Fixtures.read("qstash/signed_requests.json"));
        // the fixture was signed for https://sync.example.com/api/qstash/booking-created: that base URL and that path
        triggers = new SignedTriggers(fixture.get("currentSigningKey").asText(), fixture.get("nextSigningKey").asText(), HMAC_SECRET,
                "https://sync.example.com/", Duration.ofMinutes(5));
        triggers.clock(Clock.fixed(Instant.ofEpochSecond(fixture.get("now").asLong()), ZoneOffset.UTC));
        body = fixture.get("body").asText().getBytes(StandardCharsets.UTF_8);
        path = "/api/qstash/booking-created";
    }

    private String token(String name) {
        return fixture.get("cases").get(name).asText();
    }

    private String qstash(String name) {
        return triggers.verify(path, token(name), null, null, body);
    }

    @Test
    void should_accept_a_token_signed_with_the_current_or_the_next_key() {
        assertThat(qstash("valid_current_key")).isEqualTo("qstash");
        assertThat(qstash("valid_next_key_after_rotation")).isEqualTo("qstash");
        assertThat(qstash("valid_far_future_exp")).isEqualTo("qstash");
    }

    @Test
    void should_refuse_a_wrong_key_an_expired_token_another_url_and_a_changed_body() {
        assertThatThrownBy(() -> qstash("invalid_wrong_key")).hasMessageContaining("bad signature");
        assertThatThrownBy(() -> qstash("invalid_expired_at_now")).hasMessageContaining("expired");
        assertThatThrownBy(() -> qstash("invalid_subject")).hasMessageContaining("another URL");
        assertThatThrownBy(() -> qstash("invalid_body_hash")).hasMessageContaining("body does not match");
        assertThatThrownBy(() -> triggers.verify(path, token("valid_current_key"), null, null, "{\"changed\":1}".getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("body does not match");
        assertThatThrownBy(() -> triggers.verify("/api/triggers/other", token("valid_current_key"), null, null, body))
                .hasMessageContaining("another URL");
    }

    @Test
    void should_refuse_a_valid_token_ten_minutes_later() {
        SignedTriggers later = new SignedTriggers(fixture.get("currentSigningKey").asText(), fixture.get("nextSigningKey").asText(),
                null, "https://sync.example.com", Duration.ofMinutes(5));
        later.clock(Clock.fixed(Instant.ofEpochSecond(fixture.get("now").asLong() + 600), ZoneOffset.UTC));
        assertThatThrownBy(() -> later.verify(path, token("valid_current_key"), null, null, body)).isInstanceOf(ApiException.class)
                .hasMessageContaining("expired");
    }

    private String hmac(long ts, byte[] body) throws Exception {
        return hmac(ts, path, body);
    }

    private static String hmac(long ts, String path, byte[] body) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(HMAC_SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((ts + "." + path + ".").getBytes(StandardCharsets.UTF_8));
        return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    }

    @Test
    void should_accept_an_hmac_signature_once_within_its_window() throws Exception {
        long now = fixture.get("now").asLong();
        String signature = hmac(now - 60, body);

        assertThat(triggers.verify(path, null, String.valueOf(now - 60), signature, body)).isEqualTo("hmac");
        assertThatThrownBy(() -> triggers.verify(path, null, String.valueOf(now - 60), signature, body))
                .hasMessageContaining("seen already");
    }

    @Test
    void should_refuse_an_hmac_signature_outside_its_window_or_not_matching() throws Exception {
        long now = fixture.get("now").asLong();
        assertThatThrownBy(() -> triggers.verify(path, null, String.valueOf(now - 301), hmac(now - 301, body), body))
                .hasMessageContaining("outside the 5-minute window");
        assertThatThrownBy(() -> triggers.verify(path, null, String.valueOf(now), hmac(now, body), "{}".getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("does not match");
        assertThatThrownBy(() -> triggers.verify(path, null, null, null, body)).isInstanceOf(ApiException.class)
                .hasMessageContaining("needs Upstash-Signature");
        assertThatThrownBy(() -> triggers.verify("/api/triggers/other", null, String.valueOf(now), hmac(now, body), body))
                .as("signed for another source").hasMessageContaining("does not match");
        assertThatThrownBy(() -> triggers.verify(path, null, "99999999999999999", hmac(now, body), body))
                .isInstanceOf(ApiException.class).hasMessageContaining("unix seconds");
    }

    @Test
    void should_refuse_a_token_signed_with_another_algorithm() throws Exception {
        com.nimbusds.jwt.SignedJWT hs512 = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader(com.nimbusds.jose.JWSAlgorithm.HS512),
                com.nimbusds.jwt.JWTClaimsSet.parse(com.nimbusds.jwt.SignedJWT.parse(token("valid_current_key")).getJWTClaimsSet().toJSONObject()));
        hs512.sign(new com.nimbusds.jose.crypto.MACSigner((fixture.get("currentSigningKey").asText() + "-padded-to-64-bytes-for-hs512-0000000")
                .getBytes(StandardCharsets.UTF_8)));
        assertThatThrownBy(() -> triggers.verify(path, hs512.serialize(), null, null, body)).hasMessageContaining("must be HS256");
        assertThatThrownBy(() -> triggers.verify(path, "not.a.jwt", null, null, body)).isInstanceOf(ApiException.class);
    }
}

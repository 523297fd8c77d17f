package io.syncwarden.heal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class UpstreamWaitTest {
    private final UpstreamWait wait = new UpstreamWait(60_000, 300_000);

    @Test
    void should_wait_what_the_upstream_names() {
        assertThat(wait.waitMillis(429, Map.of("X-RateLimit-Reset-Default", "57"))).isEqualTo(57_000);
        assertThat(wait.waitMillis(429, Map.of("x-ratelimit-reset-default", "57", "X-RateLimit-Reset-Burst", "3"))).isEqualTo(3_000);
        assertThat(wait.waitMillis(503, Map.of("Retry-After", "12"))).isEqualTo(12_000);
        long epoch = System.currentTimeMillis() / 1000 + 30;
        assertThat(wait.waitMillis(429, Map.of("X-RateLimit-Reset-Default", String.valueOf(epoch)))).isBetween(28_000L, 30_000L);
        // an epoch in milliseconds is not a wait of fifty thousand years
        assertThat(wait.waitMillis(429, Map.of("X-RateLimit-Reset-Default", String.valueOf(epoch * 1000)))).isBetween(28_000L, 30_000L);
    }

    @Test
    void should_fall_back_to_the_default_or_to_back_off() {
        assertThat(wait.waitMillis(429, Map.of())).isEqualTo(60_000);
        assertThat(wait.waitMillis(429, Map.of("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"))).isEqualTo(60_000);
        assertThat(wait.waitMillis(503, Map.of())).isNull();
        assertThat(wait.waitMillis(500, Map.of("Retry-After", "5"))).isNull();
    }
}

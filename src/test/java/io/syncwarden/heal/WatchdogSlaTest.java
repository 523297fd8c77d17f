package io.syncwarden.heal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The watchdog's grading: severity boundaries against the SLA, and the default SLA from a source's schedule. */
class WatchdogSlaTest {
    @ParameterizedTest(name = "{0} s late against a 600 s SLA -> {1}")
    @CsvSource({"0, ok", "600, ok", "601, warning", "1200, warning", "1201, high", "2400, high", "2401, critical"})
    void should_grade_an_age_against_the_sla(long ageSeconds, String severity) {
        assertThat(Watchdog.severity(Duration.ofSeconds(ageSeconds), Duration.ofMinutes(10))).isEqualTo(severity);
    }

    @ParameterizedTest(name = "{0} every {1} -> due {2} min after its last success")
    @CsvSource({"google-sheets, '0 */2 * * * ?', 10", "http-csv, '0 */5 * * * ?', 15", "calcom-bookings, '0 */30 * * * ?', 90"})
    void should_derive_the_deadline_from_the_schedules_own_fires(String kind, String cron, long minutes) {
        assertThat(Watchdog.freshnessSla(kind, cron, "", Instant.parse("2026-11-29T06:00:00Z"))).isEqualTo(Duration.ofMinutes(minutes));
    }

    @Test
    void should_expect_nothing_of_a_schedule_that_does_not_fire_again() {
        assertThat(Watchdog.deadline("jdbc", "0 0 0 1 1 ? 2099", "", Instant.parse("2026-11-29T06:00:00Z"))).isNull();
    }

    @Test
    void should_refuse_a_configured_sla_under_a_minute() {
        assertThatThrownBy(() -> Watchdog.configuredSla("30")).hasMessageContaining("shorter than a minute");
    }

    @ParameterizedTest(name = "configured {0}")
    @CsvSource({"PT45M, 45", "45m, 45", "2h, 120"})
    void should_take_a_configured_sla(String configured, long minutes) {
        assertThat(Watchdog.freshnessSla("jdbc", "0 0 */6 * * ?", configured, Instant.now())).isEqualTo(Duration.ofMinutes(minutes));
    }
}

package io.syncwarden.alert;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class AlertsTest {
    private static final String WEBHOOK = "https://hooks.slack.com/services/T0001/B0001/s3cr3tW3bh00k";
    private static final String KEY = "R0UT1NGKEY0000000000000000000042";
    private final Alerts alerts = new Alerts(null, new Alerts.Settings(WEBHOOK, "https://events.pagerduty.com/v2/enqueue", KEY,
            Duration.ofMinutes(15), Duration.ofMinutes(240), 8, Duration.ofSeconds(30), "node-1"));

    @Test
    void should_route_by_severity() {
        assertThat(Alerts.channels("warning")).isEmpty();
        assertThat(Alerts.channels("high")).containsExactly(Alerts.SLACK);
        assertThat(Alerts.channels("critical")).containsExactly(Alerts.PAGERDUTY, Alerts.SLACK);
    }

    @Test
    void should_keep_the_webhook_url_and_routing_key_out_of_every_recorded_error() {
        assertThat(alerts.scrub("Illegal character in path at index 40: " + WEBHOOK + " x")).doesNotContain("s3cr3t")
                .contains("<slack webhook>");
        assertThat(alerts.scrub("Invalid uri hooks.slack.com/services/T0001/B0001/s3cr3tW3bh00k")).doesNotContain("s3cr3t");
        assertThat(alerts.scrub("event for " + KEY + " refused")).doesNotContain(KEY);
        assertThat(alerts.scrub("GET http://other.example/secret/path failed")).isEqualTo("GET http://other.example/<path> failed");
        assertThat(new Alerts.Settings(WEBHOOK, "u", KEY, Duration.ZERO, Duration.ZERO, 1, Duration.ZERO, "n").toString())
                .doesNotContain("s3cr3t").doesNotContain(KEY);
    }

    @Test
    void should_read_retry_after_in_seconds() {
        assertThat(Alerts.retryAfter("30")).isEqualTo(Duration.ofSeconds(30));
        assertThat(Alerts.retryAfter(null)).isNull();
        assertThat(Alerts.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT")).isNull();
    }

    @Test
    void should_escape_slack_mrkdwn() {
        assertThat(Alerts.escape("<a> & b")).isEqualTo("&lt;a&gt; &amp; b");
    }
}

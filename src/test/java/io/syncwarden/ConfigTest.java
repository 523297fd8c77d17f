package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The settings catalogue: its checks and messages, and that the shipped files agree with it. */
class ConfigTest {

    private static Config.Values load(Map<String, String> set) {
        return Config.load(k -> Optional.ofNullable(set.get(k)), set.keySet());
    }

    private static String problems(Map<String, String> set) {
        try {
            load(set);
            return "";
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    @Test
    void should_take_the_declared_defaults_when_nothing_is_set() {
        Config.Values v = load(Map.of());
        assertThat(v.integer("syncwarden.retry.max-redeliveries")).isEqualTo(3);
        assertThat(v.decimal("syncwarden.guard.max-drop")).isEqualTo(0.5);
        assertThat(v.bool("syncwarden.reload.enabled")).isTrue();
        assertThat(v.text("syncwarden.watchdog.cron")).isEqualTo("0 */5 * * * ?");
        assertThatThrownBy(() -> v.integer("syncwarden.no.such")).hasMessageContaining("not declared");
    }

    @Test
    void should_name_the_key_and_the_fix_for_each_wrong_value() {
        assertThat(problems(Map.of("syncwarden.retry.max-redeliveries", "-2")))
                .contains("syncwarden.retry.max-redeliveries must be >= 0, was -2");
        assertThat(problems(Map.of("syncwarden.db.pool-size", "ten")))
                .contains("syncwarden.db.pool-size must be a whole number (connections), was 'ten'");
        assertThat(problems(Map.of("syncwarden.guard.max-drop", "1.5"))).contains("syncwarden.guard.max-drop must be <= 1, was 1.5");
        assertThat(problems(Map.of("syncwarden.api.health-public", "yes")))
                .contains("syncwarden.api.health-public must be true or false, was 'yes'");
        assertThat(problems(Map.of("syncwarden.jolokia.role", "root")))
                .contains("syncwarden.jolokia.role must be one of viewer, operator, admin, was 'root'");
        assertThat(problems(Map.of("syncwarden.watchdog.cron", "*/5 * * * *")))
                .contains("syncwarden.watchdog.cron must be a Quartz cron").contains("was '*/5 * * * *'");
        assertThat(problems(Map.of("syncwarden.anomaly.threshold", "NaN"))).contains("syncwarden.anomaly.threshold must be a finite number");
    }

    @Test
    void should_list_every_problem_at_once_and_catch_a_misspelt_key() {
        String all = problems(Map.of("syncwarden.retry.max-redelivery", "5", "syncwarden.lock.lease-ms", "10",
                "syncwarden.db.pool-size", "0"));
        assertThat(all).startsWith("Invalid configuration (3 problems):")
                .contains("unknown setting syncwarden.retry.max-redelivery (did you mean syncwarden.retry.max-redeliveries?)")
                .contains("syncwarden.lock.lease-ms must be >= 1000, was 10")
                .contains("syncwarden.db.pool-size must be >= 1, was 0");
    }

    @Test
    void should_check_settings_that_bound_each_other() {
        assertThat(problems(Map.of("syncwarden.anomaly.min-runs", "30")))
                .contains("syncwarden.anomaly.min-runs must be <= syncwarden.anomaly.window, were 30 and 20");
        assertThat(problems(Map.of("syncwarden.retry.initial-delay-ms", "90000")))
                .contains("syncwarden.retry.initial-delay-ms must be <= syncwarden.retry.max-delay-ms");
    }

    @Test
    void should_report_a_value_that_cannot_be_resolved() {
        String message = problems(new java.util.HashMap<>(Map.of("syncwarden.db.url", "x"))) + Config.class.getSimpleName();
        assertThat(message).doesNotContain("cannot be resolved"); // a plain value resolves
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Config.load(k -> {
                    if (k.equals("syncwarden.db.url")) {
                        throw new IllegalArgumentException("syncwarden.db.url cannot be resolved (env DATABASE_URL not set)");
                    }
                    return Optional.empty();
                }, List.of("syncwarden.db.url")));
        assertThat(e.getMessage()).startsWith("Invalid configuration (1 problem)").contains("syncwarden.db.url cannot be resolved");
    }

    @Test
    void should_never_echo_a_secret() {
        assertThat(problems(Map.of("syncwarden.api.tokens", "s3cret-value", "syncwarden.db.pool-size", "x"))).doesNotContain("s3cret");
    }

    /** Every syncwarden.* key in application.properties is declared, with the declared default as its value. */
    @Test
    void should_agree_with_application_properties() throws Exception {
        Properties shipped = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of("application.properties"))) {
            shipped.load(r);
        }
        Pattern env = Pattern.compile("\\{\\{env:[A-Z0-9_]+:(.*)}}");
        for (String key : shipped.stringPropertyNames()) {
            if (!key.startsWith("syncwarden.")) {
                continue;
            }
            Config.Key declared = Config.key(key).orElseThrow(() -> new AssertionError(key + " is not declared in Config"));
            String value = shipped.getProperty(key).strip();
            Matcher m = env.matcher(value);
            String effective = m.matches() ? m.group(1) : value;
            assertThat(effective).as(key).isEqualTo(declared.defaultValue());
        }
        List<String> missing = Config.keys().stream().map(Config.Key::name).filter(k -> !shipped.containsKey(k)).toList();
        assertThat(missing).as("declared but not in application.properties").isEmpty();
    }

    @Test
    void should_match_the_generated_docs() throws Exception {
        assertThat(Files.readString(Path.of("docs/configuration.md")))
                .as("docs/configuration.md is out of date: java -jar target/syncwarden.jar settings > docs/configuration.md")
                .isEqualTo(Config.markdown());
    }
}

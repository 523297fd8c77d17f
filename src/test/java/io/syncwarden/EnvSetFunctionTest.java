package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvSetFunctionTest {
    private final Map<String, String> env = Map.of("KEY", "k", "SECRET", "s", "BLANK", "  ");
    private final EnvSetFunction fn = new EnvSetFunction(env::get);

    @Test
    void should_be_true_only_when_every_named_variable_has_a_value() {
        assertThat(fn.apply("KEY,SECRET")).isEqualTo("true");
        assertThat(fn.apply("KEY, SECRET ,MISSING")).isEqualTo("false");
        assertThat(fn.apply("KEY,BLANK")).isEqualTo("false");
        assertThat(fn.apply("")).isEqualTo("false");
    }

    @Test
    void should_accept_alternative_groups() {
        assertThat(fn.apply("MISSING|KEY,SECRET")).isEqualTo("true");
        assertThat(fn.apply("MISSING|BLANK")).isEqualTo("false");
    }
}

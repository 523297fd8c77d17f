package io.syncwarden;

import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.apache.camel.spi.PropertiesFunction;

/**
 * {@code {{env-set:A,B,C}}} is {@code true} when every named environment variable is set and not blank, else
 * {@code false} (environment only, like the {@code {{env:NAME}}} values the instances read). Source instances use it as their
 * {@code enabled} value, so a connector switches itself on once its credentials are present. Values are never
 * returned or logged, only whether they exist.
 */
public final class EnvSetFunction implements PropertiesFunction {
    private final UnaryOperator<String> env;

    public EnvSetFunction() {
        this(System::getenv);
    }

    EnvSetFunction(UnaryOperator<String> env) {
        this.env = env;
    }

    @Override
    public String getName() {
        return "env-set";
    }

    /** {@code A,B|C,D}: true when A and B are set, or C and D are (alternative credentials). */
    @Override
    public String apply(String remainder) {
        return String.valueOf(Arrays.stream(remainder.split("\\|")).anyMatch(this::allSet));
    }

    private boolean allSet(String names) {
        return !names.isBlank() && Arrays.stream(names.split(",")).map(String::trim).filter(n -> !n.isEmpty())
                .allMatch(n -> present(env.apply(n)));
    }

    private static boolean present(String v) {
        return v != null && !v.isBlank();
    }
}

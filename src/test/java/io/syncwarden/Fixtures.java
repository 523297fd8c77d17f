package io.syncwarden;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** Protocol payloads the tests serve from stubs, kept under {@code src/test/resources/fixtures/}. */
public final class Fixtures {
    private Fixtures() {
    }

    /** The fixture at {@code fixtures/<path>} on the test classpath, as UTF-8 text. */
    public static String read(String path) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/fixtures/" + path)) {
            if (in == null) {
                throw new IllegalArgumentException("No test fixture fixtures/" + path + " on the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package io.syncwarden.store;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * SQL names. Configured names must be plain identifiers (letters, digits, underscore), so quoting them is always
 * safe; every generated statement quotes them, so columns named like keywords ({@code value}, {@code order},
 * {@code user}, {@code key}) work.
 */
public final class Identifiers {
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    private Identifiers() {
    }

    /** The name, checked to be a plain identifier; the message names the setting and the name. */
    public static String plain(String what, String name) {
        if (name == null || !PLAIN.matcher(name.trim()).matches()) {
            throw new IllegalArgumentException(what + " '" + name + "' is not a plain SQL identifier (letters, digits, _; "
                    + "at most 63 characters, not starting with a digit)");
        }
        return name.trim();
    }

    public static boolean isPlain(String name) {
        return name != null && PLAIN.matcher(name).matches();
    }

    /** A name as stored, in double quotes (H2, PostgreSQL and the SQL standard); a quote inside is doubled. */
    public static String quote(String stored) {
        return "\"" + stored.replace("\"", "\"\"") + "\"";
    }

    /** A name in another database's quoting ({@code DatabaseMetaData.getIdentifierQuoteString}). */
    public static String quote(String stored, String quote) {
        if (quote == null || quote.isBlank()) {
            return stored;
        }
        String q = quote.trim();
        return q + stored.replace(q, q + q) + q;
    }

    public static String lower(String name) {
        return name.toLowerCase(Locale.ROOT);
    }
}

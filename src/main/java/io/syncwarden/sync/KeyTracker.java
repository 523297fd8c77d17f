package io.syncwarden.sync;

import java.util.Arrays;
import java.util.List;

/**
 * Finds a key read twice in one read, so the second row is rejected naming the first instead of silently overwriting
 * it. A read in key order needs only the previous key ({@link Mode#ADJACENT}); any other read remembers every key it
 * saw ({@link Mode#ALL}) as a 64-bit hash with the position it was first read at, in an open-addressing table of
 * 16 bytes a slot (about 32 MB for a million keys). Two different keys share a hash with a probability of about
 * n&sup2;/2<sup>65</sup> (3&times;10<sup>-8</sup> for a million keys); a read whose keys are unique by the
 * upstream's own constraint uses {@link Mode#NONE}. At most {@link #MAX_KEYS} keys are remembered; a larger read is
 * checked up to there (and says so in the log).
 */
public final class KeyTracker {
    public enum Mode { NONE, ADJACENT, ALL }

    private static final long EMPTY = 0L;
    /** Keys remembered at most (64 MB of table); beyond, the rest of the read is not checked (logged once). */
    static final int MAX_KEYS = 4_000_000;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(KeyTracker.class);
    private Mode mode;
    private Object previous;
    private long previousPosition;
    private long[] hashes;
    private long[] positions;
    private int size;

    public KeyTracker(Mode mode) {
        this.mode = mode;
        if (mode == Mode.ALL) {
            hashes = new long[1 << 10];
            positions = new long[1 << 10];
        }
    }

    /** Records the key at its position; returns the position it was first read at, or -1 when it is new. */
    public long seen(Object key, long position) {
        switch (mode) {
            case NONE:
                return -1;
            case ADJACENT: {
                Object k = comparable(key);
                if (previous != null && previous.equals(k)) {
                    return previousPosition;
                }
                previous = k;
                previousPosition = position;
                return -1;
            }
            default:
                if (size >= MAX_KEYS) {
                    LOG.warn("More than {} keys in one read: repeated keys are not detected for the rest of it", MAX_KEYS);
                    mode = Mode.NONE;
                    hashes = null;
                    positions = null;
                    return -1;
                }
                return hashed(hash(key), position);
        }
    }

    /**
     * True when the key was recorded (exactly, unless two keys share a 64-bit hash: then a key not read counts as read,
     * the safe side for a deletion check). Keys compare as {@link #canonical} values: a key read back from the target
     * as the database typed it matches the key as the reader coerced it.
     */
    public boolean contains(Object key) {
        if (mode != Mode.ALL) {
            throw new IllegalStateException("KeyTracker in mode " + mode + " does not remember every key");
        }
        long h = hash(key);
        if (h == EMPTY) {
            h = 1;
        }
        int mask = hashes.length - 1;
        for (int i = (int) (h ^ (h >>> 32)) & mask; ; i = (i + 1) & mask) {
            if (hashes[i] == EMPTY) {
                return false;
            }
            if (hashes[i] == h) {
                return true;
            }
        }
    }

    /** Keys recorded so far. */
    public int size() {
        return size;
    }

    /**
     * One value per key the database holds as one: text without trailing blanks, numbers without trailing zeros (100, 100.0 and 1E+2 as the long
     * 100), JDBC's date and time classes as java.time, zoned times as their instant.
     */
    static Object canonical(Object v) {
        if (v instanceof String s) {
            // a char(n) column pads, a varchar copy of it does not: keys compare without trailing blanks
            return s.isEmpty() || s.charAt(s.length() - 1) != ' ' ? s : s.stripTrailing();
        }
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof java.math.BigDecimal d) {
            java.math.BigDecimal s = d.signum() == 0 ? java.math.BigDecimal.ZERO : d.stripTrailingZeros();
            return s.scale() <= 0 && s.precision() - s.scale() < 19 ? (Object) s.longValueExact() : s.toPlainString();
        }
        if (v instanceof java.math.BigInteger b) {
            return b.bitLength() < 64 ? (Object) b.longValue() : b.toString();
        }
        if (v instanceof java.sql.Timestamp t) {
            return t.toLocalDateTime();
        }
        if (v instanceof java.sql.Date d) {
            return d.toLocalDate();
        }
        if (v instanceof java.sql.Time t) {
            return t.toLocalTime();
        }
        if (v instanceof java.time.OffsetDateTime t) {
            return t.toInstant();
        }
        if (v instanceof java.time.ZonedDateTime t) {
            return t.toInstant();
        }
        return v;
    }

    /** How each column of a result set is read as a key value (see {@link #read}); computed once per result set. */
    public static int[] kinds(java.sql.ResultSet rs) throws java.sql.SQLException {
        java.sql.ResultSetMetaData md = rs.getMetaData();
        int[] kinds = new int[md.getColumnCount() + 1];
        for (int i = 1; i < kinds.length; i++) {
            int type = md.getColumnType(i);
            String name = md.getColumnTypeName(i);
            kinds[i] = type == java.sql.Types.TIMESTAMP_WITH_TIMEZONE || "timestamptz".equalsIgnoreCase(name) ? 1
                    : type == java.sql.Types.CHAR || type == java.sql.Types.NCHAR || "bpchar".equalsIgnoreCase(name) ? 2 : 0;
        }
        return kinds;
    }

    /**
     * A column value as keys compare it: a zoned timestamp as an offset time (the PostgreSQL driver's getObject gives a
     * zone-less Timestamp), a fixed-width {@code char} without its padding. {@code kinds} from {@link #kinds}.
     */
    public static Object read(java.sql.ResultSet rs, int column, int[] kinds) throws java.sql.SQLException {
        if (kinds[column] == 1) {
            return rs.getObject(column, java.time.OffsetDateTime.class);
        }
        Object v = rs.getObject(column);
        return kinds[column] == 2 && v instanceof String t ? t.stripTrailing() : v;
    }

    private long hashed(long h, long position) {
        if (h == EMPTY) {
            h = 1; // 0 marks a free slot
        }
        int mask = hashes.length - 1;
        for (int i = (int) (h ^ (h >>> 32)) & mask; ; i = (i + 1) & mask) {
            if (hashes[i] == EMPTY) {
                hashes[i] = h;
                positions[i] = position;
                if (++size * 2 > hashes.length) {
                    grow();
                }
                return -1;
            }
            if (hashes[i] == h) {
                return positions[i];
            }
        }
    }

    private void grow() {
        long[] oldHashes = hashes;
        long[] oldPositions = positions;
        hashes = new long[oldHashes.length * 2];
        positions = new long[oldPositions.length * 2];
        size = 0;
        for (int i = 0; i < oldHashes.length; i++) {
            if (oldHashes[i] != EMPTY) {
                hashed(oldHashes[i], oldPositions[i]);
            }
        }
    }

    /** Keys of the same column compare as text; binary keys by their bytes. */
    private static Object comparable(Object key) {
        return key instanceof byte[] b ? Arrays.toString(b) : key instanceof List<?> l ? l.stream().map(KeyTracker::comparable).toList() : canonical(key);
    }

    /** FNV-1a over the key's text form (components separated by a character no value carries), then MurmurHash3's mix. */
    static long hash(Object key) {
        long h = 0xcbf29ce484222325L;
        if (key instanceof List<?> parts) {
            for (Object p : parts) {
                h = fnv(h, p);
                h = (h ^ 0x1F) * 0x100000001b3L;
            }
        } else {
            h = fnv(h, key);
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    private static long fnv(long h, Object raw) {
        Object value = raw instanceof Long ? raw : canonical(raw);
        if (value instanceof Long || value instanceof Integer || value instanceof Short) {
            long v = ((Number) value).longValue();
            for (int i = 0; i < 8; i++, v >>>= 8) {
                h = (h ^ (v & 0xff)) * 0x100000001b3L;
            }
            return h;
        }
        if (value instanceof byte[] bytes) {
            for (byte b : bytes) {
                h = (h ^ (b & 0xff)) * 0x100000001b3L;
            }
            return h;
        }
        String s = String.valueOf(value);
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            h = (h ^ (ch & 0xff)) * 0x100000001b3L;
            h = (h ^ (ch >>> 8)) * 0x100000001b3L;
        }
        return h;
    }

    /** True when this tracker sees every repeat (not off, not past its cap). */
    public boolean exact() {
        return mode != Mode.NONE;
    }
}

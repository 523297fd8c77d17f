package io.syncwarden.source;

import java.nio.charset.StandardCharsets;

/**
 * An upstream answered with a body that cannot be read as the protocol promises (truncated, HTML instead of JSON,
 * not JSON at all). Usually passing (a proxy's error page, a connection cut mid-body), so it is retried; the message
 * quotes the first bytes so the cause can be seen.
 */
public class MalformedAnswerException extends RuntimeException {
    static final int QUOTED = 120;
    private final boolean downloaded;

    public MalformedAnswerException(String upstream, String problem, byte[] firstBytes, Throwable cause) {
        this(upstream, problem, firstBytes, cause, false);
    }

    /**
     * {@code downloaded}: found by a step after the download (a reader of the cached answer), so a redelivery of that
     * step would read the same bytes again: the run goes to the retry queue at once, whose run asks anew.
     */
    public MalformedAnswerException(String upstream, String problem, byte[] firstBytes, Throwable cause, boolean downloaded) {
        super("Malformed answer from " + upstream + ": " + problem + (firstBytes == null ? ""
                : "; it begins with '" + quote(firstBytes) + "'"), cause);
        this.downloaded = downloaded;
    }

    /** The answer is already in hand: retrying the step that found this cannot help, asking again can. */
    public boolean downloaded() {
        return downloaded;
    }

    /** Up to {@value #QUOTED} characters of the body, control characters shown as spaces. */
    static String quote(byte[] body) {
        if (body == null || body.length == 0) {
            return "";
        }
        String text = new String(body, 0, Math.min(body.length, QUOTED * 4), StandardCharsets.UTF_8);
        text = text.replaceAll("\\p{Cntrl}", " ");
        return text.length() > QUOTED ? text.substring(0, QUOTED) + "…" : text;
    }
}

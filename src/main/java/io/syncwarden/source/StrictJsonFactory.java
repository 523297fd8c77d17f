package io.syncwarden.source;

import com.google.api.client.json.JsonFactory;
import com.google.api.client.json.JsonGenerator;
import com.google.api.client.json.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Reader;
import java.io.StringReader;
import java.io.Writer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;

/**
 * The Google client's JSON, but an answer body must be one complete JSON object before it is parsed. The stock
 * parser stops at the end of the first object and treats a cut-off stream as its end: a truncated values.get answer
 * can become a silently shorter sheet, a {@code NullPointerException}, or an "IOException" that looks like a network
 * error. Here any such body is a {@link MalformedAnswerException} naming its first bytes.
 */
final class StrictJsonFactory extends JsonFactory {
    private final JsonFactory delegate;
    private final String upstream;
    private final boolean quoteBody;

    /** {@code quoteBody} false for answers that may carry secrets (the token endpoint's): the error names no byte of them. */
    StrictJsonFactory(JsonFactory delegate, String upstream, boolean quoteBody) {
        this.delegate = delegate;
        this.upstream = upstream;
        this.quoteBody = quoteBody;
    }

    @Override
    public JsonParser createJsonParser(InputStream in, Charset charset) throws IOException {
        byte[] body;
        try (in) {
            body = in.readAllBytes();
        }
        String text = new String(body, charset == null ? StandardCharsets.UTF_8 : charset);
        try {
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                throw new IOException("not a JSON object");
            }
            reader.skipValue();
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new IOException("data after the JSON object");
            }
        } catch (IOException | IllegalStateException e) {
            String problem = body.length == 0 ? "an empty body" : "not one complete JSON object (" + body.length + " bytes; "
                    + e.getMessage().split("\n")[0].replaceAll("Use JsonReader.*", "").trim() + ")";
            throw new MalformedAnswerException(upstream, problem, quoteBody ? body : null, e);
        }
        return delegate.createJsonParser(text);
    }

    @Override
    public JsonParser createJsonParser(InputStream in) throws IOException {
        return delegate.createJsonParser(in);
    }

    @Override
    public JsonParser createJsonParser(String value) throws IOException {
        return delegate.createJsonParser(value);
    }

    @Override
    public JsonParser createJsonParser(Reader reader) throws IOException {
        return delegate.createJsonParser(reader);
    }

    @Override
    public JsonGenerator createJsonGenerator(OutputStream out, Charset enc) throws IOException {
        return delegate.createJsonGenerator(out, enc);
    }

    @Override
    public JsonGenerator createJsonGenerator(Writer writer) throws IOException {
        return delegate.createJsonGenerator(writer);
    }
}

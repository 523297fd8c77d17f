package io.syncwarden.heal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.api.client.http.HttpHeaders;
import com.google.api.client.http.HttpResponseException;
import io.syncwarden.source.MalformedAnswerException;
import io.syncwarden.sync.LeaseLostException;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunInterruptedException;
import java.net.SocketTimeoutException;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.camel.RuntimeCamelException;
import org.apache.camel.http.base.HttpOperationFailedException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every failure the sync can meet, and the class that decides whether it is retried. */
class ErrorClassTest {

    static Stream<Arguments> http() {
        return Stream.of(
                Arguments.of(400, "non_recoverable"), Arguments.of(401, "non_recoverable"), Arguments.of(403, "non_recoverable"),
                Arguments.of(404, "non_recoverable"), Arguments.of(405, "non_recoverable"), Arguments.of(409, "non_recoverable"),
                Arguments.of(410, "non_recoverable"), Arguments.of(413, "non_recoverable"), Arguments.of(422, "non_recoverable"),
                Arguments.of(501, "non_recoverable"), Arguments.of(302, "non_recoverable"), Arguments.of(418, "non_recoverable"),
                Arguments.of(408, "recoverable"), Arguments.of(429, "recoverable"), Arguments.of(500, "recoverable"),
                Arguments.of(502, "recoverable"), Arguments.of(503, "recoverable"), Arguments.of(504, "recoverable"));
    }

    @ParameterizedTest(name = "HTTP {0} from camel-http is {1}")
    @MethodSource("http")
    void camel_http_status_decides(int status, String expected) {
        var e = new HttpOperationFailedException("http://upstream/x", status, "status", null, Map.of(), "{}");
        assertThat(ErrorClass.of(new RuntimeCamelException(e))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "HTTP {0} from the Google client is {1}")
    @MethodSource("http")
    void google_client_status_decides(int status, String expected) {
        var e = new HttpResponseException.Builder(status, "status", new HttpHeaders()).build();
        assertThat(ErrorClass.of(new RuntimeCamelException(e))).isEqualTo(expected);
    }

    static Stream<Arguments> sqlStates() {
        return Stream.of(
                Arguments.of("28000", "non_recoverable"), Arguments.of("28P01", "non_recoverable"),
                Arguments.of("3D000", "non_recoverable"), Arguments.of("42501", "non_recoverable"),
                Arguments.of("42P01", "non_recoverable"), Arguments.of("42P10", "non_recoverable"),
                Arguments.of("42S02", "non_recoverable"), Arguments.of("42000", "non_recoverable"),
                Arguments.of("08001", "recoverable"), Arguments.of("08006", "recoverable"), Arguments.of("08S01", "recoverable"),
                Arguments.of("40001", "recoverable"), Arguments.of("40P01", "recoverable"), Arguments.of("53300", "recoverable"),
                Arguments.of("53100", "recoverable"), Arguments.of("55P03", "recoverable"), Arguments.of("57014", "recoverable"),
                Arguments.of("57P01", "recoverable"), Arguments.of("HYT00", "recoverable"), Arguments.of("90067", "recoverable"));
    }

    @ParameterizedTest(name = "SQLState {0} is {1}")
    @MethodSource("sqlStates")
    void sql_state_decides(String state, String expected) {
        assertThat(ErrorClass.of(new RuntimeCamelException(new SQLException("db said no", state)))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "SQLState {0} inside a batch error is {1}")
    @MethodSource("sqlStates")
    void the_error_a_batch_error_wraps_decides(String state, String expected) {
        BatchUpdateException batch = new BatchUpdateException("Batch entry 0 was aborted", null, new int[0]);
        batch.setNextException(new SQLException("the real error", state));
        assertThat(ErrorClass.of(batch)).isEqualTo(expected);
    }

    static Stream<Arguments> rowErrors() {
        return Stream.of(Arguments.of("22001", true), Arguments.of("22018", true), Arguments.of("22P02", true),
                Arguments.of("23502", true), Arguments.of("23505", true), Arguments.of("23514", true), Arguments.of("23513", true),
                Arguments.of("55P03", false), Arguments.of("57014", false), Arguments.of("HYT00", false), Arguments.of("42501", false),
                Arguments.of("42P10", false), Arguments.of("08006", false), Arguments.of("40P01", false));
    }

    @ParameterizedTest(name = "SQLState {0} is about one row: {1}")
    @MethodSource("rowErrors")
    void only_data_and_integrity_errors_are_about_one_row(String state, boolean rowError) {
        assertThat(ErrorClass.isRowError(new SQLException("x", state))).isEqualTo(rowError);
    }

    static Stream<Arguments> others() {
        return Stream.of(
                Arguments.of(new NonRecoverableSyncException("mapping names a missing column"), "non_recoverable"),
                Arguments.of(new RuntimeCamelException(new LeaseLostException("taken over")), "lease_lost"),
                Arguments.of(new RunInterruptedException("stopping"), "interrupted"),
                Arguments.of(new MalformedAnswerException("Cal.com", "not JSON", "<html>".getBytes(), null), "recoverable"),
                Arguments.of(new RuntimeCamelException(new SocketTimeoutException("Read timed out")), "recoverable"),
                Arguments.of(new SQLTransientConnectionException("pool timed out"), "recoverable"),
                Arguments.of(new IllegalStateException("something unforeseen"), "recoverable"),
                Arguments.of(null, "recoverable"));
    }

    @ParameterizedTest(name = "{0} is {1}")
    @MethodSource("others")
    void other_failures(Throwable error, String expected) {
        assertThat(ErrorClass.of(error)).isEqualTo(expected);
    }
}

package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import org.junit.jupiter.api.Test;

class ValuesTest {

    @Test
    void should_turn_text_into_the_target_column_type() {
        assertThat(Values.coerce(" 9 ", Types.INTEGER)).isEqualTo(9);
        assertThat(Values.coerce("12.30", Types.NUMERIC)).isEqualTo(new BigDecimal("12.30"));
        assertThat(Values.coerce("yes", Types.BOOLEAN)).isEqualTo(true);
        assertThat(Values.coerce("2025-03-14", Types.DATE)).isEqualTo(LocalDate.of(2025, 3, 14));
        assertThat(Values.coerce("2025-03-14 10:00:00", Types.TIMESTAMP)).isEqualTo(LocalDateTime.of(2025, 3, 14, 10, 0));
    }

    @Test
    void should_read_blank_text_as_null_for_typed_columns() {
        assertThat(Values.coerce("  ", Types.BIGINT)).isNull();
    }

    @Test
    void should_refuse_text_that_is_not_of_the_type() {
        assertThatThrownBy(() -> Values.coerce("abc", Types.INTEGER)).isInstanceOf(NumberFormatException.class);
        assertThatThrownBy(() -> Values.coerce("maybe", Types.BOOLEAN)).hasMessageContaining("not a boolean");
    }

    @Test
    void should_read_timestamps_quickly_and_exactly() {
        assertThat(Values.localDateTime("2025-03-14 10:00")).isEqualTo(LocalDateTime.of(2025, 3, 14, 10, 0));
        assertThat(Values.localDateTime("2025-03-14T10:00:05")).isEqualTo(LocalDateTime.of(2025, 3, 14, 10, 0, 5));
        assertThat(Values.localDateTime("2025-03-14 10:00:05.123")).isEqualTo(LocalDateTime.of(2025, 3, 14, 10, 0, 5, 123_000_000));
        assertThat(Values.localDateTime("2025-03-14 10:00:05.123456789")).isEqualTo(LocalDateTime.of(2025, 3, 14, 10, 0, 5, 123_456_789));
        assertThatThrownBy(() -> Values.localDateTime("2025-02-30 10:00:05")).isInstanceOf(java.time.format.DateTimeParseException.class);
        assertThatThrownBy(() -> Values.localDateTime("2025-03-14 10:00:5x")).isInstanceOf(java.time.format.DateTimeParseException.class);
    }
}

package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.sql.Date;
import java.sql.Timestamp;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import org.junit.jupiter.api.Test;

class CursorTest {

    @Test
    void should_bring_back_each_value_with_its_sql_type() {
        Object[] values = {Timestamp.valueOf(LocalDateTime.of(2026, 3, 1, 9, 0, 0, 123_456_000)), 42L, 7,
                new BigDecimal("12.50"), "L-1001", Date.valueOf(LocalDate.of(2025, 3, 14)),
                OffsetDateTime.parse("2026-01-02T03:04:05Z"), null};

        Object[] back = Cursor.decode(Cursor.encode(values));

        assertThat(back).containsExactly(values[0], 42L, 7L, new BigDecimal("12.50"), "L-1001", values[5], values[6], null);
    }

    @Test
    void should_name_an_unreadable_checkpoint() {
        assertThatThrownBy(() -> Cursor.decode("{not json")).hasMessageContaining("Unreadable checkpoint cursor {not json");
    }
}

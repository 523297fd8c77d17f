package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.sql.Date;
import java.sql.Timestamp;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class CursorTest {

    @Test
    void should_bring_back_each_value_with_its_sql_type() {
        UUID id = UUID.randomUUID();
        Object[] values = {Timestamp.valueOf(LocalDateTime.of(2026, 3, 1, 9, 0, 0, 123_456_789)), 42L, 7,
                new BigDecimal("12.50"), "L-1001", Date.valueOf(LocalDate.of(2025, 3, 14)),
                OffsetDateTime.parse("2026-01-02T03:04:05.5+05:30"), null, id, LocalTime.of(10, 11, 12, 345_000_000), true,
                new byte[] {1, (byte) 0xff}};

        Object[] back = Cursor.decode(Cursor.encode(values));

        assertThat(back).containsExactly(LocalDateTime.of(2026, 3, 1, 9, 0, 0, 123_456_789), 42L, 7L, new BigDecimal("12.50"),
                "L-1001", LocalDate.of(2025, 3, 14), OffsetDateTime.parse("2026-01-02T03:04:05.5+05:30"), null, id,
                LocalTime.of(10, 11, 12, 345_000_000), true, new byte[] {1, (byte) 0xff});
    }

    @Test
    void should_name_an_unreadable_checkpoint() {
        assertThatThrownBy(() -> Cursor.decode("{not json")).hasMessageContaining("Unreadable checkpoint cursor {not json");
    }
}

package io.syncwarden.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class JdbcSourceTest {

    @Test
    void should_select_rows_strictly_after_the_cursor_in_column_order() {
        assertThat(JdbcSource.keyset(List.of("updated_at", "id")))
                .isEqualTo("((updated_at > ?) OR (updated_at = ? AND id > ?))");
    }
}

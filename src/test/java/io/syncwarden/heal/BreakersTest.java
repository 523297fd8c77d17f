package io.syncwarden.heal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.syncwarden.store.ConnectionGuard;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The target database's breaker as the guard of its connections. */
class BreakersTest {
    private final Breakers breakers = new Breakers(Breakers.registry(5, Duration.ofMinutes(5)), () -> null);
    private final ConnectionGuard guard = breakers.targetGuard(2, Duration.ofHours(1));

    private CircuitBreaker target() {
        return breakers.registry().find(Breakers.TARGET).orElseThrow();
    }

    @Test
    void should_refuse_connections_at_once_after_the_database_was_unreachable_n_times() throws Exception {
        guard.before();
        guard.lost(new SQLException("refused", "08001"));
        guard.before();
        guard.answered(); // a success in between: the failures are not in a row
        guard.before();
        guard.lost(new SQLException("refused", "08001"));
        assertThat(target().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        guard.before();
        guard.lost(new SQLException("refused", "08001"));

        assertThat(target().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThatThrownBy(guard::before).isInstanceOf(SQLException.class).hasMessageContaining("circuit breaker is open")
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08001"));
    }

    @Test
    void should_give_back_the_half_open_permit_when_a_borrow_ends_without_an_answer() throws Exception {
        target().transitionToOpenState();
        target().transitionToHalfOpenState();

        guard.before();
        guard.released(); // the pool was busy: neither an answer nor a loss
        guard.before();   // the single trial permit is free again

        guard.answered();
        assertThat(target().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    }
}

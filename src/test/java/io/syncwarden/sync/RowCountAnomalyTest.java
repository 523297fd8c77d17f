package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RowCountAnomalyTest {
    private final RowCountAnomaly anomaly = new RowCountAnomaly(3.5, 20, 5, 0.05);

    @Test
    void should_score_a_count_by_median_and_mad() {
        long[] history = {100, 104, 96, 110, 90, 102, 98};
        // median 100, deviations 0 4 4 10 10 2 2 -> MAD 4; spread max(4, 5% of 100) = 5; sigma-scaled 7.413
        RowCountAnomaly.Judgement usual = anomaly.judge(120, history);
        RowCountAnomaly.Judgement far = anomaly.judge(130, history);

        assertThat(usual.median()).isEqualTo(100.0);
        assertThat(usual.mad()).isEqualTo(4.0);
        assertThat(usual.score()).isCloseTo(20 / 7.413, org.assertj.core.data.Offset.offset(0.01));
        assertThat(usual.anomalous()).isFalse();
        assertThat(far.score()).isCloseTo(30 / 7.413, org.assertj.core.data.Offset.offset(0.01));
        assertThat(far.anomalous()).isTrue();
        assertThat(anomaly.judge(70, history).anomalous()).as("far below is as anomalous as far above").isTrue();
    }

    @Test
    void should_resist_an_outlier_in_the_history() {
        long[] history = {1000, 1010, 990, 1005, 0, 995}; // one empty run does not widen what counts as usual
        assertThat(anomaly.judge(1400, history).anomalous()).isTrue();
        assertThat(anomaly.judge(1030, history).anomalous()).isFalse();
    }

    @Test
    void should_let_a_steady_history_grow_a_little_but_not_double() {
        long[] steady = {30, 30, 30, 30, 30};
        assertThat(anomaly.judge(31, steady).anomalous()).as("MAD 0 is not a zero spread").isFalse();
        assertThat(anomaly.judge(35, steady).anomalous()).isFalse();
        assertThat(anomaly.judge(60, steady).anomalous()).isTrue();
    }

    @Test
    void should_not_judge_without_enough_history_or_when_off() {
        assertThat(anomaly.judge(1_000_000, new long[] {30, 30, 30, 30})).isNull();
        assertThat(new RowCountAnomaly(0, 20, 5, 0.05).judge(1_000_000, new long[] {30, 30, 30, 30, 30})).isNull();
        assertThatThrownBy(() -> new RowCountAnomaly(3.5, 4, 5, 0.05)).hasMessageContaining("window >= min-runs");
    }
}

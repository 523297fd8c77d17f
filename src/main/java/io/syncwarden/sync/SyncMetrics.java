package io.syncwarden.sync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.function.Supplier;

/** Per-source Prometheus counters: runs by status, rows by outcome, run duration. */
public class SyncMetrics {
    private final Supplier<MeterRegistry> registry;

    public SyncMetrics(Supplier<MeterRegistry> registry) {
        this.registry = registry;
    }

    void run(String source, String status, long durationMillis) {
        MeterRegistry r = registry.get();
        if (r == null) {
            return;
        }
        Counter.builder("syncwarden.runs").description("Sync runs by source and final status")
                .tag("source", source).tag("status", status).register(r).increment();
        if (!"refused".equals(status)) {
            Timer.builder("syncwarden.run.duration").description("Duration of sync runs")
                    .tag("source", source).register(r).record(Duration.ofMillis(durationMillis));
        }
    }

    void rows(RunContext run) {
        MeterRegistry r = registry.get();
        if (r == null) {
            return;
        }
        count(r, run.sourceId(), "read", run.read());
        count(r, run.sourceId(), "inserted", run.inserted());
        count(r, run.sourceId(), "updated", run.updated());
        count(r, run.sourceId(), "unchanged", run.unchanged());
        count(r, run.sourceId(), "rejected", run.rejected());
        count(r, run.sourceId(), "skipped", run.skipped());
    }

    private static void count(MeterRegistry r, String source, String outcome, long n) {
        Counter.builder("syncwarden.rows").description("Rows handled by sync runs, by outcome")
                .tag("source", source).tag("outcome", outcome).register(r).increment(n);
    }
}

package io.syncwarden.sync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Per-source Prometheus counters: runs by final status, rows by outcome, run duration, failed attempts by error class,
 * triggers that found their source still running, and records kept while the target database was unreachable.
 */
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
        if (durationMillis > 0) {
            Timer.builder("syncwarden.run.duration").description("Duration of sync runs")
                    .tag("source", source).register(r).record(Duration.ofMillis(durationMillis));
        }
    }

    void refused(String source, String trigger) {
        MeterRegistry r = registry.get();
        if (r != null) {
            Counter.builder("syncwarden.triggers.refused").description("Triggers that found their source's run still going")
                    .tag("source", source).tag("trigger", trigger).register(r).increment();
        }
    }

    void attemptFailed(String source, String errorClass) {
        MeterRegistry r = registry.get();
        if (r != null) {
            Counter.builder("syncwarden.attempts.failed").description("Failed attempts of sync runs, by error class")
                    .tag("source", source).tag("error_class", errorClass).register(r).increment();
        }
    }

    /** Counts one event of a source (a queued retry, a dead-letter write that failed, a pause...). */
    public void count(String name, String description, String source) {
        MeterRegistry r = registry.get();
        if (r != null) {
            Counter.builder(name).description(description).tag("source", source).register(r).increment();
        }
    }

    /** Counts one event with these tags (name, value, name, value...). */
    public void count(String name, String description, String... tags) {
        MeterRegistry r = registry.get();
        if (r != null) {
            Counter.builder(name).description(description).tags(tags).register(r).increment();
        }
    }

    void unrecorded() {
        MeterRegistry r = registry.get();
        if (r != null) {
            Counter.builder("syncwarden.records.deferred")
                    .description("Run records kept in memory because the target database was unreachable").register(r).increment();
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
        count(r, run.sourceId(), "deleted", run.deleted());
    }

    private static void count(MeterRegistry r, String source, String outcome, long n) {
        Counter.builder("syncwarden.rows").description("Rows handled by sync runs, by outcome")
                .tag("source", source).tag("outcome", outcome).register(r).increment(n);
    }
}

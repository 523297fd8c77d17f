/**
 * The run lifecycle: run records, the per-source lock with its lease, checkpoints, upserts per dialect, rejected rows
 * and the guards before a run is closed. Readers in {@code source} feed it rows; it never talks to an upstream
 * itself. It depends on {@code store} only: how a failure is judged (its class, its text) is {@code heal}'s, handed
 * in as a {@link io.syncwarden.sync.Failure}; health checks are made by {@code health}.
 * Packages depend in one direction: store, sync, source, heal, health.
 */
package io.syncwarden.sync;

/**
 * The run lifecycle: run records, the per-source lock with its lease, checkpoints, upserts per dialect and
 * rejected rows. Readers in {@code source} feed it rows; it never talks to an upstream itself.
 */
package io.syncwarden.sync;

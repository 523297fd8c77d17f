/**
 * One reader per source kind and its row mapping, its cheap recovery probe and its API keys. A reader is a bean
 * created per source instance by its route template; it reads the upstream and hands rows to the {@code sync} writer.
 * It owns no tables and depends on {@code sync} and {@code store} only (never on {@code heal}).
 */
package io.syncwarden.source;

/**
 * Telling people: incidents ({@code heal}) become notifications by severity, Slack for {@code high}, PagerDuty Events
 * API v2 and Slack for {@code critical}, with cooldowns, resolutions and an outbox ({@code alert_log}) the
 * {@code alerts} route delivers with retries ({@link io.syncwarden.alert.Alerts}). It reads incidents and the control
 * tables, writes only {@code alert_log}, never starts a sync and never blocks one. Depends on {@code store},
 * {@code sync} (metrics, time helpers) and {@code heal} (incidents); nothing depends on it but the routes.
 */
package io.syncwarden.alert;

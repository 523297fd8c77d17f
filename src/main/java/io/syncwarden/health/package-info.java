/** Source health as Camel health checks (readiness); later freshness SLAs, anomalies and incidents. Writes no data tables. */
package io.syncwarden.health;

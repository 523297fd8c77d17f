-- When the source's circuit breaker last changed state (circuit_state: closed, open, half_open).
ALTER TABLE source_health ADD COLUMN circuit_since TIMESTAMP WITH TIME ZONE;

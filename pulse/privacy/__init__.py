"""Personal data in Pulse: PII handling, erasure, retention and consent (docs/privacy.md)."""

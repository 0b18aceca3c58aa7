"""Metrics and structured logging: how operators see what the gateway is doing."""

"""Tests of sentiment.monitoring."""

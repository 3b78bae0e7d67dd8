"""Tests of sentiment.infra."""

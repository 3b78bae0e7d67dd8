"""Tests of sentiment.data."""

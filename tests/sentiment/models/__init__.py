"""Tests of sentiment.models."""

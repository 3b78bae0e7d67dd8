"""Tests of sentiment.pipeline."""

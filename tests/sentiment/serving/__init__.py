"""Tests of sentiment.serving."""

"""Tests of the app's handlers and its door, called in-process."""

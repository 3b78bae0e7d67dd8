"""Unit tests of the domain package, one folder per lifecycle stage."""

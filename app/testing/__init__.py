"""Helpers shared by the application's tests and benchmarks."""

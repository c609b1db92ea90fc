"""Helpers of the test modules: no test lives here, and no test module imports another."""

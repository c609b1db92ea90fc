"""Helpers of the boot tier: processes, services and the checks run on a booted project."""

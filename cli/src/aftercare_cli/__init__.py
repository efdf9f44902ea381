"""``aftercare``: the operators' command line for a running Aftercare system."""

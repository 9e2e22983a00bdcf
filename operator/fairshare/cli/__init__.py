"""The `fairshare` command line: bring up the local platform, and (later) simulate, explain and benchmark."""

"""A test-only xraybench plugin, "installed" by putting tests/plugins on sys.path (its dist-info holds the entry
points). Everything here uses only xraybench's public registration API, as a separate package would."""

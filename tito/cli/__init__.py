"""The `tito` command line: thin commands over the library layer."""

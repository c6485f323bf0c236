"""The typer + rich command-line interface: a thin layer over library functions."""

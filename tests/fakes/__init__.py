"""Local stand-ins and helpers for outside systems the tests cannot reach (or must clean up)."""

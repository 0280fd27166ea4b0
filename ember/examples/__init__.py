"""Runnable programs on data that ships with the package (no downloads).

    python -m ember.examples.digits     a small CNN on the 8x8 UCI handwritten digits
"""

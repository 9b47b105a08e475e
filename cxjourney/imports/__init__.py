"""Imports of data from source systems: CSV files read as streams, rejected rows reported."""

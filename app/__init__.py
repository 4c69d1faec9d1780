"""Streamlit helpers shared by the pages (caching of the data set and of runs, error display)."""

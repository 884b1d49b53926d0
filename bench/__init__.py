"""Performance benchmark of the patient pages at realistic clinic sizes.

See bench/run.py for what is measured and how to run it (`make bench`).
"""

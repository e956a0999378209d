"""Keeping the collector off the objects every process makes once at start-up.

A full (oldest-generation) collection walks every tracked object; after start-up a Quorum process holds
hundreds of thousands that live as long as it does (modules, the URL map, models, compiled schemas). A
5,000-row import or an export makes enough new objects to trigger such collections every few requests, and
each one walked the start-up heap again: an import request took 230-250 ms instead of 130-150 ms every third
request (bench/RESULTS.md). `gc.freeze()` moves what exists now into a permanent generation that collections
skip; objects made later are collected as before.
"""

import gc


def freeze_startup_heap() -> None:
    gc.collect()
    gc.freeze()

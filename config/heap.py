"""Keeping the garbage collector off the objects every process makes once at start-up, and out of the requests.

A full (oldest-generation) collection walks every tracked object; after start-up a Quorum process holds
hundreds of thousands that live as long as it does (modules, the URL map, models, compiled schemas). A
5,000-row import or an export makes enough new objects to trigger such collections every few requests, and
each one walked the start-up heap again: an import request took 230-250 ms instead of 130-150 ms every third
request (bench/RESULTS.md). `gc.freeze()` moves what exists now into a permanent generation that collections
skip; objects made later are collected as before.
"""

import gc

# A young-generation collection once 50,000 more tracked objects have been made than freed, instead of 700: a `next`
# or a submit makes a few thousand, so the default ran collections on every request (and an older-generation one
# every ten of them); in-process that was a fifth of a request's CPU (bench/RESULTS.md). Objects freed by reference
# counting, nearly all of them, never wait for the collector either way.
YOUNG_THRESHOLD = 50_000


def freeze_startup_heap() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)

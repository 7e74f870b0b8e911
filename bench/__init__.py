"""``make bench``: cmclient against boto3, a hand-written floor and the stack floor, side
by side.

Run ``python -m bench`` (about three and a half minutes) or ``python -m bench --quick``
(seconds). Every section alternates the contenders round by round, so drift on a busy
machine hits all of them alike, and reports medians with min–max. See
``bench/README.md``.
"""

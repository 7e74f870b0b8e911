"""``make bench``: cmclient against boto3 and a hand-written floor, side by side.

Run ``python -m bench`` (about four minutes) or ``python -m bench --quick`` (seconds).
Every section alternates the contenders round by round, so drift on a busy machine
hits all of them alike, and reports medians with min–max. See ``bench/README.md``.
"""

"""Cold-start child scripts: each is run as a fresh ``python`` process by ``bench.cold_start``.

Each takes the sink's URL as its argument, imports its client, builds it, completes one
DescribeEntitiesDetectionV2Job and prints its own split times (seconds) as JSON.
"""

"""EXPERIMENTS, not part of cmclient: prototypes measured by ``make bench`` to size the
changes proposed for cmclient. Nothing outside ``bench/`` imports them."""

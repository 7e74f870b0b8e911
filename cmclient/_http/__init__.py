"""The HTTP layer: how a signed request becomes response bytes, and nothing else.

``rules`` holds every decision the two connection pools make, as pure code: which
origin a request goes to, when a connection may be reused or a request resent, and
whether a response head is acceptable. ``sync_pool`` (on ``http.client``) and
``async_pool`` (on asyncio and h11) are the two thin socket shells around those rules,
each an httpx transport. ``client`` is what the drivers need from httpx: the client
they send through, timeouts, and httpx's exceptions turned into cmclient's.
"""

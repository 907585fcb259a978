"""Webhooks in and out of the hub.

``webhooks.inbound`` holds the helpers connector verifiers share (constant-time HMAC checks,
timestamp windows, replay pre-checks); ``webhooks.outbound`` holds what the hub needs to send its
own events: Standard Webhooks signing, the retry schedule, the SSRF guard and one delivery attempt.
Nothing here touches storage: the hub persists subscriptions, attempts and dead letters.
"""

"""The status surface (SPEC section 12): a registry the app updates, and a small HTTP server.

``registry`` and ``model`` are pure; ``server`` serves ``/api/status``, ``/metrics``
(through ``prometheus_client``) and the Chinese page ``/``; ``client`` is ``--status``.
"""

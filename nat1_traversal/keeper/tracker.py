"""The one owner of "the current mapping": turns observed mappings into publishes.

The keeper offers every mapping it observes; only a new one is logged and handed
to the publisher, each once. The publisher keeps no copy of its own: it publishes
what it is given, the newest winning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nat1_traversal.i18n import t
from nat1_traversal.model import Mapping

log = logging.getLogger(__name__)


class MappingTracker:
    """Turns a stream of observed mappings into publishes: only new ones, each once."""

    def __init__(self, submit: Callable[[Mapping], None]) -> None:
        self._submit = submit
        self.current: Mapping | None = None
        self.published = 0
        self._said_public = False

    def offer(self, mapping: Mapping) -> bool:
        """Log and submit ``mapping`` if it differs from the last one; True if it did."""
        if mapping == self.current:
            log.debug("mapping unchanged: %s", mapping.outer)
            return False
        self.current = mapping
        self.published += 1
        log.info(t("keeper.mapping", addr=str(mapping.outer)))
        if mapping.is_public and not self._said_public:
            self._said_public = True
            log.info(t("keeper.public_ip", addr=str(mapping.outer)))
        self._submit(mapping)
        return True

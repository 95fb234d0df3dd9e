"""A feature's own table over the warehouse's general operations.

Alerts (``notify``), findings (``insights``), the guardrail audit (``policies``) and API
tokens (``server.auth``) each keep a small store: a :class:`Store` subclass that names the
capabilities it needs and writes through :meth:`Warehouse.insert_rows`, :meth:`~Warehouse.upsert`
and :meth:`~Warehouse.update_where`. Making one checks the engine first, so a feature that
cannot run on it fails (or is skipped, with :meth:`Store.unavailable`'s reason) before it
writes anything; adding a feature adds no method to the engines.
"""

from __future__ import annotations

from typing import ClassVar

from mlcost.warehouse._base import Capability, Warehouse


class Store:
    """Base of the features' stores: ``feature`` names it in messages, ``needs`` lists the
    capabilities its writes use."""

    feature: ClassVar[str]
    needs: ClassVar[frozenset[Capability]]

    def __init__(self, wh: Warehouse) -> None:
        wh.require(self.needs, self.feature)
        self.wh = wh

    @classmethod
    def unavailable(cls, wh: Warehouse) -> str | None:
        """Why this store cannot write to ``wh`` (one line), or None when it can."""
        return wh.why_not(cls.needs, cls.feature)

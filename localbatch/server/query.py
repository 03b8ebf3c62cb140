"""Reading list parameters from a query string, with the service's error for bad ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from localbatch.spec.errors import ApiError
from localbatch.states import State

#: The official clients ask for 100 items a page; more than this is refused.
MAX_ITEMS_LIMIT = 1000
DEFAULT_MAX_ITEMS = 50


def bad_query(text: str) -> ApiError:
    return ApiError.from_catalogue("InvalidQueryString", Query=text)


@dataclass(frozen=True)
class ListQuery:
    marker: str
    max_items: int
    states: tuple[State, ...]


def list_query(query: Mapping[str, str]) -> ListQuery:
    """Marker, MaxItemCount (1..1000, default 50) and State (one state name, or empty)."""
    raw_max = query.get("MaxItemCount", "")
    try:
        max_items = int(raw_max) if raw_max else DEFAULT_MAX_ITEMS
    except ValueError:
        raise bad_query(f"MaxItemCount={raw_max}") from None
    if not 1 <= max_items <= MAX_ITEMS_LIMIT:
        raise bad_query(f"MaxItemCount={raw_max}")
    raw_state = query.get("State", "")
    try:
        states = (State(raw_state),) if raw_state else ()
    except ValueError:
        raise bad_query(f"State={raw_state}") from None
    return ListQuery(marker=query.get("Marker", ""), max_items=max_items, states=states)


def flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query value: "true"/"True" (what the SDK sends for Python's True)."""
    return query.get(name, "").lower() == "true"

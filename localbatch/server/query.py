"""Reading list parameters from a query string, with the service's error for bad ones."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from localbatch.spec.errors import ApiError
from localbatch.states import State

#: The official clients ask for 100 items a page; more than this is refused.
MAX_ITEMS_LIMIT = 1000
DEFAULT_MAX_ITEMS = 50
#: A number in a query or a path: ASCII digits only (int() would also take signs, spaces,
#: underscores and other scripts' digits), at most 18 of them (a 64-bit integer).
PLAIN_NUMBER = re.compile(r"[0-9]{1,18}")
#: Longest IdempotentToken accepted.
MAX_TOKEN_LENGTH = 128


def bad_query(text: str) -> ApiError:
    return ApiError.from_catalogue("InvalidQueryString", Query=text)


@dataclass(frozen=True)
class ListQuery:
    marker: str
    max_items: int
    states: tuple[State, ...]

    @contextmanager
    def marker_checked(self) -> Iterator[None]:
        """The store's ValueError for a marker it did not issue, as the service answers it."""
        try:
            yield
        except ValueError:
            raise bad_query(f"Marker={self.marker}") from None


def list_query(query: Mapping[str, str]) -> ListQuery:
    """Marker, MaxItemCount (1..1000, default 50) and State (state names, comma-separated)."""
    raw_max = query.get("MaxItemCount", "")
    max_items = plain_number(raw_max) if raw_max else DEFAULT_MAX_ITEMS
    if max_items is None or not 1 <= max_items <= MAX_ITEMS_LIMIT:
        raise bad_query(f"MaxItemCount={raw_max}")
    raw_state = query.get("State", "")
    try:
        states = tuple(State(name.strip()) for name in raw_state.split(",") if name.strip())
    except ValueError:
        raise bad_query(f"State={raw_state}") from None
    return ListQuery(marker=query.get("Marker", ""), max_items=max_items, states=states)


def plain_number(text: str) -> int | None:
    """The value of a plain decimal number (see PLAIN_NUMBER); None for anything else."""
    return int(text) if PLAIN_NUMBER.fullmatch(text) else None


def idempotent_token(query: Mapping[str, str]) -> str:
    """CreateJob's IdempotentToken ("" when absent), at most MAX_TOKEN_LENGTH characters."""
    token = query.get("IdempotentToken", "")
    if len(token) > MAX_TOKEN_LENGTH:
        raise bad_query(f"IdempotentToken={token[:MAX_TOKEN_LENGTH]}...")
    return token


def flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query value: "true"/"True" (what the SDK sends for Python's True)."""
    return query.get(name, "").lower() == "true"


#: The only order jobs are listed in (newest first, or oldest first with IsReverse=true).
ORDER_BY = "CreationTime"


def check_order(query: Mapping[str, str]) -> None:
    order = query.get("OrderBy", "")
    if order and order != ORDER_BY:
        raise bad_query(f"OrderBy={order}")

"""Listings over real directories agree with OSS's rules applied to a sorted list of keys."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from localbatch.ossendpoint.listing import ListQuery, iter_listing, list_page
from localbatch.ossendpoint.metadata import ObjectMeta
from localbatch.ossendpoint.store import ObjectInfo, ObjectStore

BUCKET = "bkt"
segment = st.text(alphabet="ab-_é", min_size=1, max_size=3)
key_strategy = st.builds(
    lambda parts, folder: "/".join(parts) + ("/" if folder else ""),
    st.lists(segment, min_size=1, max_size=3),
    st.booleans(),
)


def representable(keys: list[str]) -> list[str]:
    """Drop keys whose file would sit where another key needs a directory."""
    chosen = sorted(set(keys))
    return [k for k in chosen if k.endswith("/") or not any(o.startswith(k + "/") for o in chosen)]


def reference(keys: list[str], query: ListQuery) -> list[str]:
    """OSS's listing, computed from the sorted keys (common prefixes marked by a trailing '|')."""
    result: list[str] = []
    for key in sorted(keys):
        if not key.startswith(query.prefix):
            continue
        index = key.find(query.delimiter, len(query.prefix)) if query.delimiter else -1
        if index >= 0:
            common = key[: index + len(query.delimiter)]
            if common > query.marker and (not result or result[-1] != common + "|"):
                result.append(common + "|")
        elif key > query.marker:
            result.append(key)
    return result


def fill(root: Path, keys: list[str]) -> ObjectStore:
    store = ObjectStore(root)
    for key in keys:
        writer = store.new_writer()
        if not key.endswith("/"):
            writer.write(key.encode())
        store.publish(BUCKET, key, writer, ObjectMeta(etag=writer.etag))
    return store


def shown(items: list[ObjectInfo | str]) -> list[str]:
    return [item + "|" if isinstance(item, str) else item.key for item in items]


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(key_strategy, min_size=1, max_size=12),
    prefix=st.sampled_from(["", "a", "a/", "ab/", "b-", "é"]),
    delimiter=st.sampled_from(["", "/", "-", "b/"]),
    marker=st.sampled_from(["", "a", "a/a", "b", "é"]),
)
def test_listing_matches_the_model(
    keys: list[str], prefix: str, delimiter: str, marker: str
) -> None:
    keys = representable(keys)
    query = ListQuery(prefix=prefix, delimiter=delimiter, marker=marker, max_keys=1000)
    with tempfile.TemporaryDirectory() as tmp:
        store = fill(Path(tmp), keys)
        assert shown(list(iter_listing(store, BUCKET, query))) == reference(keys, query)


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(key_strategy, min_size=1, max_size=12), delimiter=st.sampled_from(["", "/"]))
def test_pages_concatenate_to_the_full_listing(keys: list[str], delimiter: str) -> None:
    keys = representable(keys)
    with tempfile.TemporaryDirectory() as tmp:
        store = fill(Path(tmp), keys)
        full = shown(list(iter_listing(store, BUCKET, ListQuery(delimiter=delimiter))))
        paged: list[str] = []
        marker = ""
        while True:
            page = list_page(
                store, BUCKET, ListQuery(delimiter=delimiter, marker=marker, max_keys=2)
            )
            paged += [p.key for p in page.objects] + [c + "|" for c in page.prefixes]
            if not page.truncated:
                break
            marker = page.last
        assert sorted(paged) == sorted(full)
        assert len(paged) == len(full)

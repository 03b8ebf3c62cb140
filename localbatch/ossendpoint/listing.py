"""ListObjects over a directory tree, in OSS's order and with OSS's paging rules.

Keys come out in byte order without sorting the whole bucket: at each level a directory
sorts as `name/` and a file as `name`, so a depth-first walk yields keys in global order.
Directories that a prefix or marker rules out are never entered, and with a delimiter a
directory that rolls up into one common prefix is not walked at all. A directory shows up
as a folder object (`dir/`) when it is empty or was created as one, as OSS shows a
folder object. Directories are opened beneath the bucket's directory: a symbolic link that
stays inside is listed as what it leads to, one leading out is not listed at all.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from localbatch.beneath import Root
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.naming import check_key
from localbatch.ossendpoint.store import TEMPORARY_PREFIX, ObjectInfo, ObjectStore, folder_info


@dataclass(frozen=True)
class ListQuery:
    prefix: str = ""
    delimiter: str = ""
    #: Only keys (and common prefixes) strictly after this one.
    marker: str = ""
    max_keys: int = 100


@dataclass
class ListPage:
    objects: list[ObjectInfo] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    #: The last key or common prefix of the page: where the next page starts after.
    last: str = ""


def _visible(name: str) -> bool:
    if name.startswith(TEMPORARY_PREFIX):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # not valid UTF-8 on disk: no OSS key can name it
        return False
    return True


#: (sort key, path below the bucket, stat of what the entry leads to)
_Entry = tuple[str, str, os.stat_result]


def _sorted_entries(root: Root, path: str) -> list[_Entry]:
    """The visible entries of the directory `path`, links followed only while inside."""
    try:
        listed = root.entries(path)
    except OSError:  # gone, not a directory, or a link leading out
        return []
    result = []
    for name, st in listed:
        if not _visible(name):
            continue
        below = f"{path}/{name}" if path else name
        if stat.S_ISLNK(st.st_mode):
            try:
                st = root.stat(below)
            except OSError:  # a link leading out, or dangling
                continue
        if stat.S_ISDIR(st.st_mode):
            result.append((name + "/", below, st))
        elif stat.S_ISREG(st.st_mode):
            result.append((name, below, st))
    result.sort(key=lambda item: item[0])
    return result


class _Walker:
    """Yields ObjectInfo and common-prefix strings, in order, after the marker."""

    def __init__(self, store: ObjectStore, bucket: str, root: Root, query: ListQuery) -> None:
        self.store = store
        self.bucket = bucket
        self.root = root
        self.query = query
        top = root.stat("")
        #: (device, inode) of the directories being walked, to stop at symbolic-link loops.
        self._ancestors = {(top.st_dev, top.st_ino)}

    def rolled_up(self, key: str) -> str | None:
        """The common prefix `key` rolls up into, if any."""
        delimiter, prefix = self.query.delimiter, self.query.prefix
        if not delimiter:
            return None
        index = key.find(delimiter, len(prefix))
        return key[: index + len(delimiter)] if index >= 0 else None

    def _wanted(self, key: str) -> bool:
        return key.startswith(self.query.prefix) and key > self.query.marker

    def _subtree_possible(self, dir_key: str) -> bool:
        prefix, marker = self.query.prefix, self.query.marker
        if not (dir_key.startswith(prefix) or prefix.startswith(dir_key)):
            return False
        return not (marker > dir_key and not marker.startswith(dir_key))

    def walk(self, path: str, rel: str) -> Iterator[ObjectInfo | str]:
        for sort_key, below, st in _sorted_entries(self.root, path):
            key = rel + sort_key
            if not sort_key.endswith("/"):
                if self._wanted(key):
                    yield self.store.file_info(self.bucket, key, st)
                continue
            if not self._subtree_possible(key):
                continue
            common = self.rolled_up(key) if key.startswith(self.query.prefix) else None
            if common is not None:  # every key below rolls up into this one prefix
                yield common
                continue
            yield from self.walk_folder(below, key, st)

    def walk_folder(self, path: str, key: str, st: os.stat_result) -> Iterator[ObjectInfo | str]:
        identity = (st.st_dev, st.st_ino)
        if identity in self._ancestors:
            return  # a symbolic link back up the tree: its contents are listed once
        self._ancestors.add(identity)
        try:
            children = self.walk(path, key)
            first = next(children, None)
            is_folder_object = first is None and not _sorted_entries(self.root, path)
            marked = self.store.metadata.exists(self.bucket, key)
            if (is_folder_object or marked) and self._wanted(key):
                meta = self.store.metadata.load(self.bucket, key, None)
                yield folder_info(self.bucket, key, st, meta)
            if first is not None:
                yield first
                yield from children
        finally:
            self._ancestors.discard(identity)


def iter_listing(store: ObjectStore, bucket: str, query: ListQuery) -> Iterator[ObjectInfo | str]:
    """Every object and common prefix of the listing, in order (unpaged)."""
    root = store.bucket_root(bucket)
    walker = _Walker(store, bucket, root, query)
    start = query.prefix[: query.prefix.rfind("/") + 1]
    if start:
        try:
            check_key(start)
            st = root.stat(start.rstrip("/"))
        except (OssError, OSError):
            return  # no object can have this prefix under the local root
        if not stat.S_ISDIR(st.st_mode):
            return
        items = walker.walk_folder(start.rstrip("/"), start, st)
    else:
        items = walker.walk("", "")
    last_common = None
    for item in items:
        if isinstance(item, str):
            common: str | None = item
        else:
            common = walker.rolled_up(item.key)
            if common is None:
                yield item
                continue
        if common is not None and common != last_common and common > query.marker:
            last_common = common
            yield common


def list_page(store: ObjectStore, bucket: str, query: ListQuery) -> ListPage:
    page = ListPage()
    items = iter_listing(store, bucket, query)
    for item in items:
        if len(page.objects) + len(page.prefixes) >= query.max_keys:
            page.truncated = True
            break
        if isinstance(item, str):
            page.prefixes.append(item)
            page.last = item
        else:
            page.objects.append(item)
            page.last = item.key
    return page

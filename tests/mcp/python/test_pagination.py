"""Cursor pagination of tools/list, resources/list and prompts/list, driven by the official Python SDK client over
stdio and Streamable HTTP: a fixture started with `--page-size 2` must hand out every item exactly once across its
pages, and the union must equal what the same fixture lists on a single page at the default page size."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
import pytest
from conftest import SMALL_PAGE_SIZE

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated:UserWarning"),
]

MAX_PAGES = 100

# Per list method: the SDK call, the items of one page, and the key identifying an item.
LISTINGS: dict[str, tuple[str, str, str]] = {
    "tools": ("list_tools", "tools", "name"),
    "resources": ("list_resources", "resources", "uri"),
    "prompts": ("list_prompts", "prompts", "name"),
}


async def walk(list_page: Callable[..., Awaitable[Any]], items_attr: str) -> tuple[list[Any], list[int]]:
    """Follows next_cursor from the first page to the last; returns all items (as dumped dicts) and page sizes."""
    items: list[Any] = []
    sizes: list[int] = []
    cursor = None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await list_page(params=params)
        got = getattr(page, items_attr)
        sizes.append(len(got))
        items += [i.model_dump(by_alias=True, exclude_none=True, mode="json") for i in got]
        cursor = page.next_cursor
        if not cursor:
            return items, sizes
        assert len(sizes) < MAX_PAGES, "server keeps returning cursors"


async def single_page(connect, method: str, items_attr: str) -> list[Any]:
    async with connect() as (session, _):
        items, sizes = await walk(getattr(session, method), items_attr)
    assert len(sizes) == 1, f"the default page size should list everything at once, got pages of {sizes}"
    return items


@pytest.mark.parametrize("kind", sorted(LISTINGS))
async def test_small_pages_list_every_item_once(connect, kind: str) -> None:
    method, items_attr, key = LISTINGS[kind]
    expected = await single_page(connect, method, items_attr)
    assert len(expected) > SMALL_PAGE_SIZE, f"need more than {SMALL_PAGE_SIZE} {kind} to test paging: {expected}"

    async with connect(page_size=SMALL_PAGE_SIZE) as (session, _):
        paged, sizes = await walk(getattr(session, method), items_attr)

    assert len(sizes) == -(-len(expected) // SMALL_PAGE_SIZE), f"{kind}: page sizes {sizes} for {len(expected)}"
    assert all(n == SMALL_PAGE_SIZE for n in sizes[:-1]) and 1 <= sizes[-1] <= SMALL_PAGE_SIZE, sizes
    keys = [i[key] for i in paged]
    assert len(keys) == len(set(keys)), f"{kind}: an item is listed on two pages: {keys}"
    # Same items, same contents: paging changes how they are split, nothing else.
    by_key = {i[key]: i for i in paged}
    assert by_key == {i[key]: i for i in expected}


async def test_cursor_of_one_listing_walk_is_reusable(connect) -> None:
    """Asking for the same cursor twice gives the same page (a cursor is a position, not a consumed token)."""
    async with connect(page_size=SMALL_PAGE_SIZE) as (session, _):
        first = await session.list_prompts()
        assert first.next_cursor, "a second page of prompts exists at page size 2"
        params = types.PaginatedRequestParams(cursor=first.next_cursor)
        again = [p.name for p in (await session.list_prompts(params=params)).prompts]
        assert again == [p.name for p in (await session.list_prompts(params=params)).prompts]
        assert not set(again) & {p.name for p in first.prompts}

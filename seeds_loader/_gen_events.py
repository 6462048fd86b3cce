"""Events: an item catalogue, visitors, sessions, the view -> cart -> purchase funnel -> ``events.csv`` rows.

Everything is vectorised over all events at once ("slots"): each visitor gets a number of
events, buyers get purchase blocks (views and carts of the items, then the transaction rows),
the slots are laid out per visitor, then gaps (within a session or between sessions) turn into
sessions and timestamps, abandoned carts are placed, and sessions pick their items. The
"reference figures" below are the real data set's (REFERENCE.md, at scale 1); the "model
assumptions" are ours, chosen to reproduce them.

Where the add-to-carts sit (the session-level funnel). Public analyses of the real file
(30-minute sessions, no date split) find ~1.76 M sessions, 0.81% of them with a purchase, view to
cart ~2.5% (sessions with a view and a cart / sessions with a view) and cart to purchase ~31.5%
(sessions with a cart and a purchase / sessions with a cart). Together: ~0.79% of all sessions
hold both a cart and a purchase, so nearly every purchase session (~97%) holds a cart, and the
other ~2/3 of the cart sessions buy nothing. Carts are 2.52% of all events (69,332), so the
model has two kinds of carting sessions:

- Buying sessions. A purchase block (each bought item's context, mostly a view then a cart of
  it, then the transaction rows) is contiguous and starts a session or continues the one before
  it like any browsing unit; only ``PAY_LATER_P`` (1.5%) of the purchases are paid in a later
  session than their carts. Most of the 4.6% of bought items without an earlier view or cart
  of their own are variants: the visitor viewed and carted another item of the same category in
  the block (``SUBSTITUTE_SHARE``), so their session still has a cart. At scale 1 that is
  ~13.4 k sessions with a cart and a purchase (~21 k carts) and ~0.5 k purchase sessions
  without a cart (paid later, or bought after a view only or after nothing at all).
- Abandoned carts. All the other carts (~48 k) go into sessions without a purchase, several per
  session: a carting session gets 1 + extra carts (``ABANDONED_CARTS``, ~1.65 on average once
  capped by the session's length), each of the item viewed just before it. That makes ~29 k
  such sessions, hence cart to purchase 13.4 / (13.4 + 29) ~ 31.5% and view to cart
  ~42.5 k / 1.74 M ~ 2.45%. A session's chance to be a carting one grows with its browsing
  slots; bots (crawlers) never cart, as they never buy. Single carts spread over all browsing
  instead would make ~47 k sessions with a cart and no purchase: cart to purchase ~19%, view to
  cart ~3.3%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seeds_loader._gen_calendar import (
    DAY_MS,
    HOUR_MS,
    LAST_DAY_EVENTS,
    N_KST_DATES,
    T_BEGIN,
    T_END,
    VolumeProfile,
    kst_date_index,
    kst_midnight_ms,
)
from seeds_loader._gen_tree import CategoryTree

# --- reference figures (scale 1) --------------------------------------------------------------
EVENTS = 2_756_101
VISITORS = 1_407_580
ONE_EVENT_SHARE = 0.71
BOTS = 30  # visitors with more than 1,000 events ...
BOT_EVENT_SHARE = 0.022  # ... making 2.2% of the events
BOT_MAX_EVENTS = 7_757
BUYER_SHARE = 11_719 / VISITORS
CART_SHARE = 69_332 / EVENTS
NO_CONTEXT_SHARE = 0.046  # purchased rows without an earlier view or cart of the item by the visitor
DUPLICATES = 460
ITEMS_WITH_PROPERTIES = 417_053
EVENT_ITEMS = 235_061
NO_PROPERTY_SHARE = 0.21  # of the items seen in events
ITEM_ID_SPACE = 466_868  # item ids run up to ~466,867

# --- model assumptions ------------------------------------------------------------------------
# events - 2 of a multi-event visitor ~ floor(Lomax(a, b)): fitted so that all visitors together
# have mean 1.96 and p99 13 events (with 71% one-event visitors and the bots).
MULTI_EVENT_LOMAX = (1.82, 2.14)
REGULAR_MAX_EVENTS = 1_000  # more than that is a bot
BOT_PARETO = (1_030.0, 1.98)  # bots' events ~ Pareto(x_min, alpha), mean ~2,020, capped at the max
TRANSACTIONS_PER_BUYER = (0.25, 0.5)  # P(more than one), geometric p of the extra: mean 1.5 (17,672 / 11,719)
ROWS_PER_TRANSACTION = (0.165, 0.62)  # P(more than one item), geometric p of the extra: mean ~1.27
# what a purchased row has before it, in its purchase block: nothing; a view and a cart of another
# item of its category (a variant: the bought item itself has no earlier event); a view; a view
# and a cart; a cart. The first two make the 4.6% without an earlier view or cart of the item.
SUBSTITUTE_SHARE = 0.8  # of the rows without context
CONTEXT_P = (
    NO_CONTEXT_SHARE * (1 - SUBSTITUTE_SHARE),
    NO_CONTEXT_SHARE * SUBSTITUTE_SHARE,
    0.02,
    0.91,
    0.024,
)
_NOTHING, _SUBSTITUTE, _VIEW, _VIEW_CART, _CART = range(5)
CONTEXT_EVENTS = np.array([0, 2, 1, 2, 1])
BREAK_P_BETA = (1.2, 2.8)  # per-visitor chance that a new browsing unit starts a new session
BOT_BREAK_P = 0.02
PAY_LATER_P = 0.015  # the purchase happens in a later session than its views and carts
ABANDONED_CARTS = (0.6, 0.45)  # carts of a session that buys nothing: P(more than one), geometric p
REPEAT_VIEW_P = 0.12  # a view of the same item again
SESSION_CATEGORY_P = 0.8  # a view stays in the session's category (else anywhere)
ITEM_POOL_SHARE = 0.645  # items that can appear in events at all (the others only have properties)
ITEM_POPULARITY_SIGMA = 1.5  # lognormal popularity of the items in events
LEAF_ITEM_SHARE = 0.95  # items whose category is a leaf of the tree
SESSION_GAP_MS = 1_800_000  # downstream rule: a gap strictly greater than this starts a session
# planted edge cases, at least this many at any scale
MIN_EXACT_GAPS = 3  # gaps of exactly 30:00.000 and of 30:00.001
MIN_DUPLICATES = 3
MIN_MIDNIGHT_BURSTS = 5  # sessions crossing 00:00 Asia/Seoul

VIEW, ADDTOCART, TRANSACTION = 0, 1, 2
EVENT_NAMES = (b"view", b"addtocart", b"transaction")
_GEN, _CTX_VIEW, _CTX_CART, _TXN = 0, 1, 2, 3


@dataclass(frozen=True)
class Catalog:
    """All items of a data set: ids (sorted), initial category and popularity in events (0 = never)."""

    item_id: np.ndarray
    category: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class EventLog:
    """The rows of ``events.csv`` in file order; ``item`` indexes :class:`Catalog`, ``transaction`` -1 = empty."""

    timestamp: np.ndarray
    visitor: np.ndarray
    event: np.ndarray
    item: np.ndarray
    transaction: np.ndarray
    duplicates: int

    def __len__(self) -> int:
        return len(self.timestamp)


def universe_size(scale: float) -> int:
    """Items in the catalogue: those with properties plus the event items that have none."""
    return max(50, round((ITEMS_WITH_PROPERTIES + NO_PROPERTY_SHARE * EVENT_ITEMS) * scale))


def build_catalog(rng: np.random.Generator, scale: float, tree: CategoryTree) -> Catalog:
    """Item ids spread over the real id range, a category each (mostly leaves), a popularity."""
    n = universe_size(scale)
    id_space = max(ITEM_ID_SPACE, round(ITEM_ID_SPACE * scale), n)
    item_id = np.sort(rng.choice(id_space, size=n, replace=False)).astype(np.int64)
    leaves, inner = tree.leaves, tree.inner
    # a few big categories and a long tail of small ones
    leaf_p = rng.permutation((np.arange(len(leaves)) + 1.0) ** -0.9)
    leaf_p /= leaf_p.sum()
    in_leaf = (rng.random(n) < LEAF_ITEM_SHARE) | (len(inner) == 0)
    category = np.where(
        in_leaf,
        leaves[rng.choice(len(leaves), size=n, p=leaf_p)],
        inner[rng.integers(0, max(len(inner), 1), size=n)] if len(inner) else leaves[0],
    )
    in_pool = rng.random(n) < ITEM_POOL_SHARE
    weight = np.where(in_pool, rng.lognormal(0.0, ITEM_POPULARITY_SIGMA, size=n), 0.0)
    return Catalog(item_id=item_id, category=category.astype(np.int64), weight=weight)


class ItemSampler:
    """Draws items by popularity, from all items or from one category."""

    def __init__(self, catalog: Catalog) -> None:
        cats, cat_index = np.unique(catalog.category, return_inverse=True)
        self.order = np.argsort(cat_index, kind="stable")
        self.cum = np.cumsum(catalog.weight[self.order])
        counts = np.bincount(cat_index, minlength=len(cats))
        self.end = np.cumsum(counts)
        self.start = self.end - counts
        self.lo = np.where(self.start > 0, self.cum[np.maximum(self.start - 1, 0)], 0.0)
        self.hi = self.cum[self.end - 1]
        self.category_cum = np.cumsum(self.hi - self.lo)
        self.item_category = cat_index

    def anywhere(self, rng: np.random.Generator, n: int) -> np.ndarray:
        pos = np.searchsorted(self.cum, rng.random(n) * self.cum[-1], side="right")
        return self.order[np.minimum(pos, len(self.cum) - 1)]

    def similar(self, rng: np.random.Generator, item: np.ndarray) -> np.ndarray:
        """Items drawn by popularity from the category of each of ``item``."""
        return self.within(rng, self.item_category[item])

    def categories(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Category indexes (into this sampler) in proportion to their items' popularity."""
        pos = np.searchsorted(self.category_cum, rng.random(n) * self.category_cum[-1], side="right")
        return np.minimum(pos, len(self.category_cum) - 1)

    def within(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        u = self.lo[category] + rng.random(len(category)) * (self.hi[category] - self.lo[category])
        pos = np.searchsorted(self.cum, u, side="right")
        return self.order[np.clip(pos, self.start[category], self.end[category] - 1)]


def _regular_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    a, b = MULTI_EVENT_LOMAX
    cap = REGULAR_MAX_EVENTS - 2

    def lomax(k: int) -> np.ndarray:
        return np.floor(b * ((1.0 - rng.random(k)) ** (-1.0 / a) - 1.0))

    single = rng.random(n) < ONE_EVENT_SHARE
    extra = lomax(n)
    while (over := extra > cap).any():
        extra[over] = lomax(int(over.sum()))
    return np.where(single, 1, 2 + extra).astype(np.int64)


def _bot_counts(rng: np.random.Generator, n_bots: int, scale: float) -> np.ndarray:
    """Stratified Pareto draws, rescaled so that the bots make 2.2% of the events at any scale."""
    x_min, alpha = BOT_PARETO
    q = (np.arange(n_bots) + rng.random(n_bots)) / n_bots
    raw = np.minimum(x_min * (1.0 - q) ** (-1.0 / alpha), BOT_MAX_EVENTS)
    budget = BOT_EVENT_SHARE * EVENTS * scale
    return np.clip(np.round(raw * budget / raw.sum()), 2, BOT_MAX_EVENTS).astype(np.int64)


def _within_gaps(rng: np.random.Generator, bot: np.ndarray) -> np.ndarray:
    """Gaps inside a session: seconds to minutes, some close to (never above) 30 minutes."""
    n = len(bot)
    kind = rng.random(n)
    g = np.where(kind < 0.8, rng.lognormal(np.log(40_000), 1.0, n), rng.lognormal(np.log(240_000), 0.7, n))
    g = np.where(kind >= 0.97, rng.uniform(25 * 60_000, SESSION_GAP_MS, n), g)
    g = np.where(bot, rng.lognormal(np.log(12_000), 0.6, n), g)
    # fold the rare draws beyond 30 minutes back (clipping would pile them up at exactly 30:00.000)
    g = np.where(g >= SESSION_GAP_MS, rng.uniform(1_000, SESSION_GAP_MS, n), g)
    return np.maximum(np.floor(g), 500).astype(np.int64)


def _break_gaps(rng: np.random.Generator, bot: np.ndarray) -> np.ndarray:
    """Gaps between sessions: just over 30 minutes, hours, or days (bots: about a day)."""
    n = len(bot)
    kind = rng.random(n)
    g = np.where(
        kind < 0.15,
        rng.uniform(SESSION_GAP_MS, 4 * SESSION_GAP_MS, n),
        np.where(
            kind < 0.5,
            rng.lognormal(np.log(5 * HOUR_MS), 0.9, n),
            rng.lognormal(np.log(2.5 * DAY_MS), 1.1, n),
        ),
    )
    g = np.where(bot, rng.lognormal(np.log(DAY_MS), 0.7, n), g)
    g = np.where(g <= SESSION_GAP_MS + 1, rng.uniform(SESSION_GAP_MS + 2, 4 * SESSION_GAP_MS, n), g)
    return np.floor(g).astype(np.int64)


def _abandoned_carts(
    rng: np.random.Generator, session: np.ndarray, eligible: np.ndarray, wanted: int
) -> np.ndarray:
    """Which slots are abandoned carts: ``wanted`` of the ``eligible`` slots, grouped in few sessions.

    A session's chance to be a carting session grows with its eligible slots (longer browsing,
    likelier to cart); sessions are taken in that weighted random order, each with 1 + extra carts
    (``ABANDONED_CARTS``, at most its eligible slots), until ``wanted`` carts are reached. Within
    a session the carts sit on randomly chosen eligible slots. ``session`` is non-decreasing.
    """
    cart = np.zeros(len(session), dtype=bool)
    idx = np.flatnonzero(eligible)
    if wanted <= 0 or not len(idx):
        return cart
    sess = session[idx]
    run_start = np.flatnonzero(np.concatenate([[True], sess[1:] != sess[:-1]]))
    n_eligible = np.diff(np.append(run_start, len(idx)))
    m = len(run_start)
    p_more, p_geo = ABANDONED_CARTS
    k = np.minimum(1 + np.where(rng.random(m) < p_more, rng.geometric(p_geo, m), 0), n_eligible)
    order = np.argsort(rng.exponential(size=m) / n_eligible, kind="stable")
    taken = min(int(np.searchsorted(np.cumsum(k[order]), wanted)) + 1, m)
    quota = np.zeros(m, dtype=np.int64)
    quota[order[:taken]] = k[order[:taken]]
    run = np.repeat(np.arange(m), n_eligible)
    shuffled = np.lexsort((rng.random(len(idx)), run))  # eligible slots in random order within each run
    rank = np.empty(len(idx), dtype=np.int64)
    rank[shuffled] = np.arange(len(idx)) - run_start[run[shuffled]]
    cart[idx[rank < quota[run]]] = True
    return cart


def _take(pool: np.ndarray, used: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` visitors of ``pool`` not yet used, marked as used."""
    free = pool[~used[pool]][:k]
    used[free] = True
    return free


def simulate_events(rng: np.random.Generator, scale: float, catalog: Catalog) -> EventLog:
    """The event log of ``scale`` x the real data set's visitors (see the module docstring)."""
    sampler = ItemSampler(catalog)
    profile = VolumeProfile()

    # 1. visitors and their number of events --------------------------------------------------
    n_visitors = max(20, round(VISITORS * scale))
    n_bots = max(1, round(BOTS * scale))
    n_regular = n_visitors - n_bots
    counts = np.concatenate([_regular_counts(rng, n_regular), _bot_counts(rng, n_bots, scale)])
    is_bot = np.arange(n_visitors) >= n_regular

    # 2. buyers (among visitors with several events, the more active the likelier) and their purchases
    n_buyers = max(1, round(BUYER_SHARE * n_visitors))
    keys = rng.exponential(size=n_regular) / counts[:n_regular]
    keys[counts[:n_regular] < 2] = np.inf
    buyers = np.sort(np.argsort(keys, kind="stable")[:n_buyers])
    p_more, p_geo = TRANSACTIONS_PER_BUYER
    per_buyer = 1 + np.where(rng.random(n_buyers) < p_more, rng.geometric(p_geo, n_buyers), 0)
    txn_visitor = np.repeat(buyers, per_buyer)
    n_txn = len(txn_visitor)
    p_more, p_geo = ROWS_PER_TRANSACTION
    per_txn = 1 + np.where(rng.random(n_txn) < p_more, rng.geometric(p_geo, n_txn), 0)
    row_txn = np.repeat(np.arange(n_txn), per_txn)
    n_rows = len(row_txn)
    row_context = rng.choice(len(CONTEXT_P), size=n_rows, p=CONTEXT_P)
    row_ctx_events = CONTEXT_EVENTS[row_context]
    block_len = np.bincount(row_txn, weights=1 + row_ctx_events, minlength=n_txn).astype(np.int64)
    need = np.bincount(txn_visitor, weights=block_len, minlength=n_visitors).astype(np.int64)
    counts = np.maximum(counts, need)
    is_buyer = need > 0

    # 3. slots: generic events and purchase blocks, interleaved in random order per visitor -----
    n_generic = counts - need
    g_visitor = np.repeat(np.arange(n_visitors), n_generic)
    ctx_row = np.repeat(np.arange(n_rows), row_ctx_events)
    ctx_k = np.arange(len(ctx_row)) - np.repeat(np.cumsum(row_ctx_events) - row_ctx_events, row_ctx_events)
    ctx_role = np.where((row_context[ctx_row] == _CART) | (ctx_k == 1), _CTX_CART, _CTX_VIEW)
    txn_key = rng.integers(0, 2**62, size=n_txn)
    b_row = np.concatenate([ctx_row, np.arange(n_rows)])
    b_txn = row_txn[b_row]
    visitor = np.concatenate([g_visitor, txn_visitor[b_txn]])
    role = np.concatenate([np.full(len(g_visitor), _GEN), ctx_role, np.full(n_rows, _TXN)])
    row = np.concatenate([np.full(len(g_visitor), -1), b_row])
    sub = np.concatenate(
        [np.zeros(len(g_visitor), dtype=np.int64), 2 * ctx_row + ctx_k, 2 * n_rows + np.arange(n_rows)]
    )
    key = np.concatenate([rng.integers(0, 2**62, size=len(g_visitor)), txn_key[b_txn]])
    order = np.lexsort((sub, key, visitor))
    visitor, role, row = visitor[order], role[order], row[order]
    del sub, key, order, g_visitor, b_row, b_txn
    n = len(visitor)
    txn = np.where(row >= 0, row_txn[np.maximum(row, 0)], -1)
    starts = np.cumsum(counts) - counts
    is_first = np.zeros(n, dtype=bool)
    is_first[starts] = True
    prev_txn = np.concatenate([[-1], txn[:-1]])
    block_first = (txn >= 0) & ((txn != prev_txn) | is_first)
    prev_role = np.concatenate([[-1], role[:-1]])
    first_txn_row = (role == _TXN) & ((prev_role != _TXN) | (txn != prev_txn))

    # 4. repeated views of the item just viewed (they copy it and never start a session) -------
    candidate = (role == _GEN) & (prev_role == _GEN) & ~is_first
    repeat = candidate & (rng.random(n) < REPEAT_VIEW_P)

    # 5. gaps: a new session or not, then how long --------------------------------------------
    p_break = np.where(is_bot, BOT_BREAK_P, rng.beta(*BREAK_P_BETA, size=n_visitors))
    slot_bot = is_bot[visitor]
    may_break = ~is_first & (((role == _GEN) & ~repeat) | block_first)
    brk = may_break & (rng.random(n) < p_break[visitor])
    brk |= first_txn_row & ~block_first & (rng.random(n) < PAY_LATER_P)
    gaps = np.where(brk, _break_gaps(rng, slot_bot), _within_gaps(rng, slot_bot))
    gaps[((role == _TXN) & ~first_txn_row) | is_first] = 0

    # planted: gaps of exactly 30:00.000 (same session) and 30:00.001 (new session)
    used = is_buyer | is_bot
    multi_pool = rng.permutation(np.flatnonzero(counts >= 2))
    n_exact = max(MIN_EXACT_GAPS, round(10 * scale))
    for value in (SESSION_GAP_MS, SESSION_GAP_MS + 1):
        chosen = _take(multi_pool, used, n_exact)
        gaps[starts[chosen] + 1] = value
        brk[starts[chosen] + 1] = value > SESSION_GAP_MS
    session = np.cumsum(is_first | brk) - 1
    n_sessions = int(session[-1]) + 1

    # 6. abandoned carts: the carts that are not part of a purchase, a few per carting session --
    buying = np.bincount(session, weights=role == _TXN, minlength=n_sessions) > 0
    eligible = candidate & ~repeat & ~brk & ~slot_bot & ~buying[session]
    expected_rows = n + max(MIN_DUPLICATES, round(DUPLICATES * scale))
    wanted_carts = round(CART_SHARE * expected_rows) - np.count_nonzero(role == _CTX_CART)
    gen_cart = _abandoned_carts(rng, session, eligible, wanted_carts)
    copies = repeat | gen_cart

    # 7. timestamps: offsets within each visitor, then an anchor drawn from the volume profile --
    cum = np.cumsum(gaps)
    offset = cum - cum[starts][visitor]
    span = offset[starts + counts - 1]
    last_start = int(kst_midnight_ms(np.array([N_KST_DATES - 1]))[0])
    longest = last_start - 1 - T_BEGIN
    too_long = span > longest  # a few heavy visitors and bots: squeeze their timeline into the window
    if too_long.any():
        factor = np.where(too_long, longest / np.maximum(span, 1), 1.0)[visitor]
        offset = np.where(too_long[visitor], np.floor(offset * factor).astype(np.int64), offset)
        span = np.minimum(span, longest)

    # planted: the first and the last event of the window, and sessions across 00:00 KST
    single_pool = rng.permutation(np.flatnonzero(counts == 1))
    first_last = _take(single_pool, used, 2)
    brk_any = np.bincount(visitor, weights=brk, minlength=n_visitors) > 0
    burst_pool = multi_pool[~brk_any[multi_pool] & (span[multi_pool] < HOUR_MS)]
    bursts = _take(burst_pool, used, max(MIN_MIDNIGHT_BURSTS, round(100 * scale)))

    # The partial last date is special: the data stop at 11:59:47 KST and it has only ~1,528
    # events. It gets visitors whose whole activity fits into it, as many as make its share of
    # the events; everybody else is active before it (nobody spills over from the day before).
    fits_last = np.flatnonzero((span <= T_END - last_start) & ~used)
    fits_last = fits_last[rng.permutation(len(fits_last))]
    last_events = LAST_DAY_EVENTS * n / EVENTS
    in_last = np.zeros(n_visitors, dtype=bool)
    in_last[fits_last[: int(np.searchsorted(np.cumsum(counts[fits_last]), last_events))]] = True
    anchor = profile.sample(
        rng, np.where(in_last, last_start, T_BEGIN), np.where(in_last, T_END, last_start - 1) - span
    )
    anchor[first_last] = [T_BEGIN, T_END][: len(first_last)]
    k = rng.integers(0, counts[bursts] - 1)  # the gap after event k crosses midnight
    midnight = kst_midnight_ms(rng.integers(1, N_KST_DATES - 1, size=len(bursts)))
    half = np.maximum(gaps[starts[bursts] + k + 1] // 2, 1)
    anchor[bursts] = midnight - offset[starts[bursts] + k] - half
    timestamp = anchor[visitor] + offset

    # every Asia/Seoul date has events: move single-event visitors into empty dates
    _cover_all_dates(rng, timestamp, starts[single_pool[~used[single_pool]]])

    # 8. items: sessions browse a category; purchases are of popular items --------------------
    session_category = sampler.categories(rng, n_sessions)
    item = np.full(n, -1, dtype=np.int64)
    own = (role == _GEN) & ~copies
    in_cat = own & (rng.random(n) < SESSION_CATEGORY_P)
    item[in_cat] = sampler.within(rng, session_category[session[in_cat]])
    anywhere = own & ~in_cat
    item[anywhere] = sampler.anywhere(rng, int(anywhere.sum()))
    row_item = _distinct_per_transaction(rng, sampler, row_txn)
    in_block = row >= 0
    item[in_block] = row_item[row[in_block]]
    variant = in_block & (role != _TXN) & (row_context[np.maximum(row, 0)] == _SUBSTITUTE)
    item[variant] = _variants(rng, sampler, row_item)[row[variant]]
    source = np.maximum.accumulate(np.where(copies, 0, np.arange(n)))
    item = item[source]

    event = np.full(n, VIEW, dtype=np.int8)
    event[gen_cart | (role == _CTX_CART)] = ADDTOCART
    event[role == _TXN] = TRANSACTION
    transaction_id = rng.permutation(n_txn)
    transaction = np.where(role == _TXN, transaction_id[np.maximum(txn, 0)], -1)
    visitor_id = rng.permutation(n_visitors)[visitor]

    # 9. the real file's quirks: exact duplicate rows, and an order that is not by time -------
    n_dup = max(MIN_DUPLICATES, round(DUPLICATES * scale))
    dup = np.sort(rng.choice(n, size=n_dup, replace=False))
    cols = [np.concatenate([c, c[dup]]) for c in (timestamp, visitor_id, event, item, transaction)]
    hour = cols[0] // HOUR_MS
    hours, hour_index = np.unique(hour, return_inverse=True)
    block_rank = rng.permutation(len(hours))[hour_index]
    order = np.lexsort((rng.random(len(hour)), block_rank))
    timestamp, visitor_id, event, item, transaction = (c[order] for c in cols)
    return EventLog(timestamp, visitor_id, event, item, transaction, duplicates=n_dup)


def _distinct_per_transaction(
    rng: np.random.Generator, sampler: ItemSampler, row_txn: np.ndarray
) -> np.ndarray:
    """Items of the purchased rows; the rows of one transaction get different items."""
    item = sampler.anywhere(rng, len(row_txn))
    for _ in range(50):
        order = np.lexsort((item, row_txn))
        same = np.zeros(len(item), dtype=bool)
        same[order[1:]] = (row_txn[order[1:]] == row_txn[order[:-1]]) & (item[order[1:]] == item[order[:-1]])
        if not same.any():
            break
        item[same] = sampler.anywhere(rng, int(same.sum()))
    return item


def _variants(rng: np.random.Generator, sampler: ItemSampler, item: np.ndarray) -> np.ndarray:
    """For each item another one, of its category (of any, when its category has no other popular item)."""
    variant = sampler.similar(rng, item)
    for tries in range(20):
        same = variant == item
        if not same.any():
            break
        redraw = sampler.similar(rng, item[same]) if tries < 8 else sampler.anywhere(rng, int(same.sum()))
        variant[same] = redraw
    return variant


def _cover_all_dates(rng: np.random.Generator, timestamp: np.ndarray, slots: np.ndarray) -> None:
    """Move one-event visitors (``slots``, in random order) from busy dates into dates without events.

    Only needed at tiny scales, where a quiet date (the partial last one above all) may get no event.
    """
    date = kst_date_index(timestamp)
    per_date = np.bincount(date, minlength=N_KST_DATES)
    missing = np.flatnonzero(per_date == 0)
    for d in missing.tolist():
        donors = slots[per_date[date[slots]] >= 2]
        if not len(donors):
            return
        slot = int(donors[0])
        slots = slots[slots != slot]
        lo = max(int(kst_midnight_ms(np.array([d]))[0]), T_BEGIN)
        hi = min(int(kst_midnight_ms(np.array([d + 1]))[0]) - 1, T_END)
        per_date[date[slot]] -= 1
        timestamp[slot] = int(rng.integers(lo, hi + 1))
        date[slot] = d
        per_date[d] += 1

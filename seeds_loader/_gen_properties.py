"""Item properties: a change log of weekly item snapshots -> ``item_properties_part{1,2}.csv`` rows.

Each item with properties enters the log at its first snapshot with ``categoryid``,
``available`` and its hashed properties; later snapshots only log changes (a new category,
an availability flip, a new price, a new hashed value). Changes follow a renewal process per
(item, property): the number of snapshots until the next change is geometric.

The property *schema* (names, how common, how volatile, value shapes) is a constant of the
data set, drawn once from a fixed seed; the run's seed decides the items' values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from seeds_loader import _gen_format as fmt
from seeds_loader._gen_calendar import SNAPSHOT_MS
from seeds_loader._gen_events import NO_PROPERTY_SHARE, Catalog
from seeds_loader._gen_tree import CategoryTree

# --- reference figures (scale 1) --------------------------------------------------------------
PROPERTY_ROWS = 20_275_902
PART1_ROWS = 10_999_999
DISTINCT_PROPERTIES = 1_104

# --- model assumptions ------------------------------------------------------------------------
N_SNAPSHOTS = len(SNAPSHOT_MS)
FIRST_SNAPSHOT_P = 0.88  # items in the first snapshot; the others enter in a later one
NO_PROPERTY_POPULARITY_EXPONENT = 1.0  # items without properties are the less viewed ones
CATEGORY_VOLATILE_P = 0.3  # items that ever change category (back and forth between two) ...
CATEGORY_CHANGE_RATE = 0.185  # ... at this rate per snapshot: ~788k categoryid rows at scale 1
SIBLING_CATEGORY_P = 0.8  # the other category is a sibling in the tree (else any leaf)
AVAILABLE_ONE_P = 0.6
AVAILABLE_RATE_BETA = (0.5, 2.6)  # per-item flip rate: ~1.5M available rows at scale 1
ITEM_VOLATILITY_SIGMA = 0.5  # some items change more than others
PRICE_MEDIAN, PRICE_SIGMA, PRICE_STEP = 5_000.0, 1.1, 24  # property 790, "n<price>.000"
PRICE_MAX_STEPS = 4_000_000  # prices stay below 10**8
TAIL_SHARE_A = 2.4  # share of items with the r-th most common other property: min(0.7, A / r)
HASH_TOKEN_MAX = 1_400_000  # hashed words are integers below this
WORD_PERMUTATION = 1_000_003  # coprime with HASH_TOKEN_MAX: value id -> word is a bijection
TEXT_VALUES = HASH_TOKEN_MAX * 2**20  # distinct values of a free-text property (a multiple of the above)

CATEGORY, AVAILABLE, PRICE, INT, NUM, TEXT = range(6)
# the well-known properties: name, share of items, change rate, kind, distinct values, max words
_FAMOUS = (
    ("888", 1.0, 0.38, TEXT, TEXT_VALUES, 16),
    ("790", 0.98, 0.22, PRICE, 0, 1),
    ("364", 1.0, 0.0, INT, 40_000, 1),
    ("283", 0.95, 0.03, TEXT, TEXT_VALUES, 12),
    ("6", 0.9, 0.035, TEXT, TEXT_VALUES, 4),
    ("159", 1.0, 0.0, INT, 1, 1),
    ("764", 1.0, 0.0, INT, 1, 1),
    ("112", 1.0, 0.0, INT, 1, 1),
    ("776", 0.9, 0.03, INT, 1_000, 1),
    ("678", 0.85, 0.03, INT, 5_000, 1),
    ("917", 0.9, 0.02, INT, 20_000, 1),
    ("202", 0.8, 0.02, TEXT, TEXT_VALUES, 3),
    ("839", 0.75, 0.01, INT, 3_000, 1),
    ("1036", 0.6, 0.01, NUM, 500, 1),
    ("400", 0.5, 0.02, TEXT, 100_000, 4),
)


@dataclass(frozen=True)
class Schema:
    """Per property code: name, share of items, change rate, kind, distinct values, max words, number step."""

    names: tuple[bytes, ...]
    share: np.ndarray
    rate: np.ndarray
    kind: np.ndarray
    cardinality: np.ndarray
    max_tokens: np.ndarray
    step: np.ndarray  # NUM values print as n<value id x step>.<decimals>


@cache
def schema() -> Schema:
    """The 1,104 properties: ``categoryid``, ``available`` and 1,102 hashed names (numbers 1..1,110)."""
    fixed = np.random.default_rng(20150510)  # not the run's seed: the schema never changes
    famous = {name for name, *_ in _FAMOUS}
    n_tail = DISTINCT_PROPERTIES - 2 - len(_FAMOUS)
    pool = np.array([i for i in range(1, 1_111) if str(i) not in famous])
    tail_names = fixed.permutation(fixed.choice(pool, size=n_tail, replace=False))
    rank = np.arange(1, n_tail + 1)
    tail_kind = fixed.choice([INT, NUM, TEXT], size=n_tail, p=[0.45, 0.25, 0.3])
    tail_rate = np.where(
        fixed.random(n_tail) < 0.6, 0.0, np.exp(fixed.uniform(np.log(0.005), np.log(0.08), n_tail))
    )
    tail_card = np.where(
        tail_kind == TEXT, TEXT_VALUES, np.exp(fixed.uniform(np.log(2), np.log(1e6), n_tail)).astype(np.int64)
    )
    names = [b"categoryid", b"available"] + [n.encode() for n, *_ in _FAMOUS]
    names += [str(n).encode() for n in tail_names]
    return Schema(
        names=tuple(names),
        share=np.concatenate([[1.0, 1.0], [f[1] for f in _FAMOUS], np.minimum(0.7, TAIL_SHARE_A / rank)]),
        rate=np.concatenate([[0.0, 0.0], [f[2] for f in _FAMOUS], tail_rate]),
        kind=np.concatenate([[CATEGORY, AVAILABLE], [f[3] for f in _FAMOUS], tail_kind]).astype(np.int64),
        cardinality=np.concatenate([[0, 2], [f[4] for f in _FAMOUS], tail_card]).astype(np.int64),
        max_tokens=np.concatenate([[1, 1], [f[5] for f in _FAMOUS], fixed.integers(2, 9, n_tail)]),
        step=fixed.choice([1, 2, 5, 10, 12, 24, 50], size=len(names)),
    )


@dataclass(frozen=True)
class PropertyLog:
    """Rows of the property files, in file order; ``item`` indexes :class:`Catalog`, ``code`` :func:`schema`."""

    snapshot: np.ndarray
    item: np.ndarray
    code: np.ndarray
    payload: np.ndarray
    salt: int

    def __len__(self) -> int:
        return len(self.snapshot)


def _renewal(
    rng: np.random.Generator,
    first: np.ndarray,
    rate: np.ndarray,
    state: np.ndarray,
    step: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Changes after each element's first snapshot: (element, snapshot, new state) of every change.

    The wait until the next change is geometric with the element's ``rate``; ``step(elements,
    states)`` gives the state after a change.
    """
    idx = np.flatnonzero(rate > 0)
    pos, r, cur = first[idx], rate[idx], state[idx]
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while idx.size:
        pos = pos + rng.geometric(r)
        keep = pos < N_SNAPSHOTS
        idx, pos, r, cur = idx[keep], pos[keep], r[keep], cur[keep]
        cur = step(idx, cur)
        out.append((idx, pos, cur))
    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return tuple(np.concatenate(parts) for parts in zip(*out, strict=True))  # type: ignore[return-value]


def _geometric_positions(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Indexes in ``range(n)`` each kept with probability ``share`` (by geometric skips)."""
    if share >= 1.0:
        return np.arange(n)
    expected = n * share
    chunk = int(expected + 6 * np.sqrt(expected) + 16)
    pos = np.cumsum(rng.geometric(share, size=chunk)) - 1
    while pos[-1] < n:
        pos = np.concatenate([pos, pos[-1] + np.cumsum(rng.geometric(share, size=chunk))])
    return pos[pos < n]


def no_property_items(rng: np.random.Generator, event_counts: np.ndarray) -> np.ndarray:
    """21% of the items seen in events (the less viewed, more likely) that get no property row."""
    seen = np.flatnonzero(event_counts > 0)
    k = round(NO_PROPERTY_SHARE * len(seen))
    keys = rng.exponential(size=len(seen)) * event_counts[seen] ** NO_PROPERTY_POPULARITY_EXPONENT
    return np.sort(seen[np.argsort(keys, kind="stable")[:k]])


def simulate_properties(
    rng: np.random.Generator, catalog: Catalog, tree: CategoryTree, without: np.ndarray
) -> PropertyLog:
    """The property change log of every catalogue item except ``without`` (shuffled, like the real file)."""
    has = np.ones(len(catalog.item_id), dtype=bool)
    has[without] = False
    items = np.flatnonzero(has)
    n = len(items)
    first = np.where(rng.random(n) < FIRST_SNAPSHOT_P, 0, rng.integers(1, N_SNAPSHOTS, size=n))
    volatility = rng.lognormal(-(ITEM_VOLATILITY_SIGMA**2) / 2, ITEM_VOLATILITY_SIGMA, size=n)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(item_pos: np.ndarray, snap: np.ndarray, code: np.ndarray | int, payload: np.ndarray) -> None:
        code = np.broadcast_to(np.asarray(code, dtype=np.int16), item_pos.shape)
        parts.append((item_pos.astype(np.int32), snap.astype(np.int8), code, payload.astype(np.int64)))

    # categoryid: the catalogue's category, for some items flipping to another one and back
    category = catalog.category[items]
    other = _other_category(rng, tree, category)
    volatile = (rng.random(n) < CATEGORY_VOLATILE_P) & (other != category)  # a one-category tree has no other
    add(np.arange(n), first, CATEGORY, category)

    def flip_category(idx: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return np.where(cur == category[idx], other[idx], category[idx])

    e, s, v = _renewal(rng, first, np.where(volatile, CATEGORY_CHANGE_RATE, 0.0), category, flip_category)
    add(e, s, CATEGORY, v)

    # available: 1 or 0, flipping at an item-specific rate
    available = (rng.random(n) < AVAILABLE_ONE_P).astype(np.int64)
    add(np.arange(n), first, AVAILABLE, available)
    e, s, v = _renewal(
        rng, first, rng.beta(*AVAILABLE_RATE_BETA, size=n), available, lambda idx, cur: 1 - cur
    )
    add(e, s, AVAILABLE, v)

    # hashed properties: which items have them, their first value, their changes
    for rows in _hashed_rows(rng, first, volatility):
        add(*rows)

    order = rng.permutation(sum(len(p[0]) for p in parts))
    columns = [np.concatenate([p[k] for p in parts])[order] for k in range(4)]
    parts.clear()
    return PropertyLog(
        snapshot=columns[1],
        item=items.astype(np.int32)[columns[0]],
        code=columns[2],
        payload=columns[3],
        salt=int(rng.integers(0, 2**63)),
    )


def _hashed_rows(
    rng: np.random.Generator, first: np.ndarray, volatility: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]:
    """(item position, snapshot, code, value id or price) of the hashed properties: first values, then changes."""
    sch = schema()
    n = len(first)
    pairs = [_geometric_positions(rng, n, float(sch.share[code])) for code in range(2, len(sch.names))]
    p_item = np.concatenate(pairs)
    p_code = np.repeat(np.arange(2, len(sch.names)), [len(p) for p in pairs])
    del pairs
    card = sch.cardinality[p_code]
    is_price = sch.kind[p_code] == PRICE
    value = np.where(
        card == TEXT_VALUES,
        rng.integers(0, TEXT_VALUES, size=len(p_code)),  # free text: (nearly) unique per item
        np.floor(np.maximum(card, 1) * rng.random(len(p_code)) ** 2).astype(np.int64),  # a few common values
    )
    price = rng.lognormal(np.log(PRICE_MEDIAN), PRICE_SIGMA, len(p_code))
    price = PRICE_STEP * np.clip(np.round(price / PRICE_STEP), 1, PRICE_MAX_STEPS)
    value = np.where(is_price, price.astype(np.int64), value)
    rate = np.where(card == 1, 0.0, np.minimum(0.9, sch.rate[p_code] * volatility[p_item]))

    def change(idx: np.ndarray, cur: np.ndarray) -> np.ndarray:
        # a new value id that differs from the current one modulo HASH_TOKEN_MAX (so its text differs)
        c = np.maximum(card[idx], 1)
        span = np.minimum(c, HASH_TOKEN_MAX) - 1
        new_value = (cur + 1 + (rng.random(len(idx)) * span).astype(np.int64)) % c
        factor = np.exp(rng.choice([-1.0, 1.0], size=len(idx)) * rng.uniform(0.03, 0.3, size=len(idx)))
        new_price = PRICE_STEP * np.clip(np.round(cur * factor / PRICE_STEP), 1, PRICE_MAX_STEPS).astype(
            np.int64
        )
        new_price = np.where(
            new_price != cur, new_price, np.where(cur > PRICE_STEP, cur - PRICE_STEP, cur + PRICE_STEP)
        )
        return np.where(is_price[idx], new_price, new_value)

    e, s, v = _renewal(rng, first[p_item], rate, value, change)
    return (p_item, first[p_item], p_code, value), (p_item[e], s, p_code[e], v)


def _other_category(rng: np.random.Generator, tree: CategoryTree, category: np.ndarray) -> np.ndarray:
    """Per item, another category to move to: mostly a sibling (same parent), else any leaf."""
    leaves = tree.leaves
    pick = rng.integers(0, len(leaves), size=len(category))
    random_leaf = np.where(leaves[pick] != category, leaves[pick], leaves[(pick + 1) % len(leaves)])
    order = np.lexsort((tree.category, tree.parent))  # grouped by parent
    cats, parents = tree.category[order], tree.parent[order]
    position = np.zeros(int(cats.max()) + 1, dtype=np.int64)
    position[cats] = np.arange(len(cats))
    pos = position[category]
    start = np.searchsorted(parents, parents[pos], side="left")
    size = np.searchsorted(parents, parents[pos], side="right") - start
    step = 1 + (rng.random(len(category)) * np.maximum(size - 1, 1)).astype(np.int64)
    sibling = cats[start + (pos - start + step) % size]
    use_sibling = (size > 1) & (rng.random(len(category)) < SIBLING_CATEGORY_P)
    return np.where(use_sibling, sibling, random_leaf)


# --- formatting ---------------------------------------------------------------------------------
_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each element."""
    x = (x ^ (x >> np.uint64(30))) * _C2
    x = (x ^ (x >> np.uint64(27))) * _C3
    return x ^ (x >> np.uint64(31))


def _value_text(code: np.ndarray, payload: np.ndarray, salt: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``value`` column: an integer, ``n<int>.<3 decimals>``, or several such words.

    Returns (the bytes of all values, concatenated; each value's length). Hashed values are a
    pure function of (property, value id, salt), and different value ids of a property print
    different text: the last word is a bijection of the id modulo ``HASH_TOKEN_MAX`` (a change
    always moves the id modulo that) and a ``NUM`` value is the id times the property's step.
    """
    sch = schema()
    kind = sch.kind[code]
    base = (payload % HASH_TOKEN_MAX).astype(np.uint64)
    per_property = _mix(np.uint64(salt) ^ (code.astype(np.uint64) * _C1))
    seed = _mix(per_property ^ _mix(payload.astype(np.uint64) + _C2))
    ntok = np.where(kind == TEXT, 1 + (seed % sch.max_tokens[code].astype(np.uint64)).astype(np.int64), 1)
    # one row per word, in line order
    row = np.repeat(np.arange(len(code)), ntok)
    t = np.arange(len(row)) - np.repeat(np.cumsum(ntok) - ntok, ntok)
    last = t == ntok[row] - 1
    kind, code, payload = kind[row], code[row], payload[row]
    h = _mix(seed[row] + (t + 1).astype(np.uint64) * _C1)
    m = np.uint64(HASH_TOKEN_MAX)
    direct = (kind == CATEGORY) | (kind == AVAILABLE) | (kind == PRICE)  # the payload is the value
    numeric = (kind == PRICE) | (kind == NUM) | ((kind == TEXT) & ~last & (h % np.uint64(4) == 0))
    word = np.where(
        last, (base[row] * np.uint64(WORD_PERMUTATION) + per_property[row] % m) % m, h % m
    ).astype(np.int64)
    free_number = (h % np.uint64(10) ** (1 + (h >> np.uint64(40)) % np.uint64(4))).astype(np.int64)
    number = np.where(kind == NUM, base[row].astype(np.int64) * sch.step[code], free_number)
    ipart = np.where(direct, payload, np.where(numeric, number, word))
    round_number = ((h >> np.uint64(20)) % np.uint64(10) < 7) | (kind == PRICE)
    decimals = np.where(round_number, 0, ((h >> np.uint64(24)) % np.uint64(1000)).astype(np.int64))
    n = len(row)
    data, length = fmt.render(
        [
            fmt.literal(b" ", n, t > 0),
            fmt.literal(b"n", n, numeric),
            fmt.int_field(ipart, 8),
            fmt.literal(b".", n, numeric),
            fmt.where(numeric, fmt.fixed_int_field(decimals, 3)),
        ]
    )
    return data, np.bincount(row, weights=length, minlength=len(ntok)).astype(np.int64)


def format_rows(log: PropertyLog, start: int, stop: int, item_id: np.ndarray) -> bytes:
    """Lines ``start:stop`` of the property log as CSV text (``item_id``: the catalogue's ids)."""
    code = log.code[start:stop].astype(np.int64)
    n = len(code)
    comma = fmt.literal(b",", n)
    head = fmt.render(
        [
            fmt.table_field(log.snapshot[start:stop], _SNAPSHOT_WORDS),
            comma,
            fmt.int_field(item_id[log.item[start:stop]], 7),
            comma,
            fmt.table_field(code, schema().names),
            comma,
        ]
    )
    newline = (np.full(n, 10, dtype=np.uint8), np.ones(n, dtype=np.int64))
    return fmt.splice([head, _value_text(code, log.payload[start:stop], log.salt), newline])


_SNAPSHOT_WORDS = tuple(str(int(t)).encode() for t in SNAPSHOT_MS)

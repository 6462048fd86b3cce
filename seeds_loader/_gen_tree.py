"""The category tree: read (and validate) a ``category_tree.csv``, or generate one of the real shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEADER = "categoryid,parentid"

# Shape of the real tree (REFERENCE.md): 1,669 categories, 25 roots, 1,307 leaves, ids up to 1,698.
DEPTH_COUNTS = (25, 174, 702, 665, 90, 13)
N_CATEGORIES = sum(DEPTH_COUNTS)
N_LEAVES = 1_307
MAX_CATEGORY_ID = 1_698
# How many nodes of each depth have children (they must add up to 1,669 - 1,307 = 362 parents;
# every root has children, the deeper levels fan out from fewer and fewer nodes).
PARENTS_PER_DEPTH = (25, 150, 150, 30, 7)
assert sum(PARENTS_PER_DEPTH) == N_CATEGORIES - N_LEAVES


class CategoryTreeError(ValueError):
    """A category tree file is malformed (the message names the file and the line)."""


@dataclass(frozen=True)
class CategoryTree:
    """Categories in file order; ``parent`` is -1 for roots."""

    category: np.ndarray
    parent: np.ndarray

    def __post_init__(self) -> None:
        if len(self.category) == 0:
            raise CategoryTreeError("the category tree is empty")

    @property
    def leaves(self) -> np.ndarray:
        """Categories that are nobody's parent, sorted."""
        return np.setdiff1d(self.category, self.parent[self.parent >= 0])

    @property
    def inner(self) -> np.ndarray:
        """Categories that have children, sorted."""
        return np.unique(self.parent[self.parent >= 0])

    def to_csv(self) -> bytes:
        """The ``category_tree.csv`` text (header, LF endings, empty parent for roots)."""
        lines = [HEADER]
        for c, p in zip(self.category.tolist(), self.parent.tolist(), strict=True):
            lines.append(f"{c}," if p < 0 else f"{c},{p}")
        return ("\n".join(lines) + "\n").encode("ascii")


def read_category_tree(path: Path) -> tuple[CategoryTree, bytes]:
    """Parse and validate a ``category_tree.csv``; returns the tree and the file's exact bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CategoryTreeError(f"{path}: cannot read the category tree: {exc.strerror or exc}") from exc
    return parse_category_tree(data, path), data


def parse_category_tree(data: bytes, path: Path | str) -> CategoryTree:
    """Parse and validate ``category_tree.csv`` text (Kaggle format); errors name ``path`` and the line."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise CategoryTreeError(f"{path}:1: starts with a UTF-8 byte order mark; the Kaggle file has none")
    if b"\r" in data:
        line = data[: data.index(b"\r")].count(b"\n") + 1
        raise CategoryTreeError(f"{path}:{line}: carriage return found; the Kaggle file uses LF line endings")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CategoryTreeError(
            f"{path}:{line}: non-ASCII byte; expected 'categoryid,parentid' integers"
        ) from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != HEADER:
        got = lines[0] if lines else ""
        raise CategoryTreeError(f"{path}:1: header must be {HEADER!r}; got {got!r}")
    categories: list[int] = []
    parents: list[int] = []
    seen: dict[int, int] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 2:
            raise CategoryTreeError(f"{path}:{lineno}: expected 2 fields 'categoryid,parentid'; got {line!r}")
        cat_text, parent_text = fields
        if not cat_text.isdigit():
            raise CategoryTreeError(
                f"{path}:{lineno}: categoryid must be a non-negative integer; got {cat_text!r}"
            )
        if parent_text and not parent_text.isdigit():
            raise CategoryTreeError(
                f"{path}:{lineno}: parentid must be empty (root) or a non-negative integer; got {parent_text!r}"
            )
        cat = int(cat_text)
        if cat in seen:
            raise CategoryTreeError(f"{path}:{lineno}: categoryid {cat} already defined on line {seen[cat]}")
        seen[cat] = lineno
        categories.append(cat)
        parents.append(int(parent_text) if parent_text else -1)
    if not categories:
        raise CategoryTreeError(f"{path}: no categories after the header")
    for cat, parent in zip(categories, parents, strict=True):
        if parent >= 0 and parent not in seen:
            raise CategoryTreeError(
                f"{path}:{seen[cat]}: parentid {parent} of category {cat} is not a category"
            )
    parent_of = dict(zip(categories, parents, strict=True))
    for cat in categories:
        steps, node = 0, cat
        while node >= 0:
            node = parent_of[node]
            steps += 1
            if steps > len(categories):
                raise CategoryTreeError(f"{path}:{seen[cat]}: category {cat} is part of a parent cycle")
    return CategoryTree(np.array(categories, dtype=np.int64), np.array(parents, dtype=np.int64))


def generate_category_tree(rng: np.random.Generator) -> CategoryTree:
    """A random tree of exactly the real shape: depth counts, 25 roots, 1,307 leaves, no orphans."""
    ids = np.sort(rng.choice(MAX_CATEGORY_ID + 1, size=N_CATEGORIES, replace=False))
    ids = rng.permutation(ids)
    levels: list[np.ndarray] = []
    start = 0
    for count in DEPTH_COUNTS:
        levels.append(ids[start : start + count])
        start += count
    parent_of: dict[int, int] = {int(c): -1 for c in levels[0]}
    for depth, n_parents in enumerate(PARENTS_PER_DEPTH):
        upper, lower = levels[depth], levels[depth + 1]
        chosen = rng.choice(upper, size=n_parents, replace=False)
        # every chosen parent gets one child, the rest go to parents with skewed (Dirichlet) weights
        extra = rng.multinomial(len(lower) - n_parents, rng.dirichlet(np.full(n_parents, 0.7)))
        assigned = np.repeat(chosen, 1 + extra)
        for child, parent in zip(lower.tolist(), rng.permutation(assigned).tolist(), strict=True):
            parent_of[child] = parent
    order = rng.permutation(np.array(list(parent_of), dtype=np.int64))
    return CategoryTree(order, np.array([parent_of[int(c)] for c in order], dtype=np.int64))

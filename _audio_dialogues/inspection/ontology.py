"""The AudioSet ontology (``data/metadata/ontology.json``, CC BY-SA 4.0): which top-level categories a label reaches.

The ontology is a graph, not a tree: 632 classes, each with ``child_ids``, and a class may have
several parents (``Bird vocalization`` is under ``Bird`` and under ``Animal``'s other branches), so a
label can reach more than one of the seven top-level categories. :meth:`Ontology.tops` gives all of
them; the statistics count an event once under *each* category its label reaches, so category
shares may sum to more than 100 %.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from ..core.bundled import bundled_file

ONTOLOGY_FILE = "ontology.json"


@dataclass(frozen=True, eq=False)  # hashed by identity, for the ancestors cache
class Ontology:
    names: dict[str, str]  # MID -> name
    descriptions: dict[str, str]  # MID -> description
    parents: dict[str, tuple[str, ...]]  # MID -> its parents' MIDs
    roots: tuple[str, ...]  # the top-level categories, in file order

    @lru_cache(maxsize=None)  # noqa: B019 - one shipped ontology per process
    def ancestors(self, mid: str) -> frozenset[str]:
        """``mid`` and every class above it (all parents, transitively)."""
        seen, todo = {mid}, [mid]
        while todo:
            for parent in self.parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return frozenset(seen)

    def tops(self, mid: str) -> tuple[str, ...]:
        """The top-level categories ``mid`` reaches (an unknown MID reaches none)."""
        above = self.ancestors(mid) if mid in self.names else frozenset()
        return tuple(root for root in self.roots if root in above)


@lru_cache(maxsize=1)
def shipped_ontology() -> Ontology:
    """The shipped ontology, read once per process."""
    classes = json.loads(bundled_file("metadata", ONTOLOGY_FILE).read_text(encoding="utf-8"))
    parents: dict[str, list[str]] = {}
    for cls in classes:
        for child in cls["child_ids"]:
            parents.setdefault(child, []).append(cls["id"])
    return Ontology(
        names={c["id"]: c["name"] for c in classes},
        descriptions={c["id"]: c["description"] for c in classes},
        parents={mid: tuple(p) for mid, p in parents.items()},
        roots=tuple(c["id"] for c in classes if c["id"] not in parents),
    )

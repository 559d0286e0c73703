"""Fund flows: where a charity's (or a project's) donated money went, as a graph.

Three columns: the donations (by what they were earmarked for) → where the money is now
(a project's spending, the general fund's, not yet spent, refunded) → the payees and
purposes the spending paid. Amounts come from the live allocations, summed in SQL by the
store's read model, so a charity with a million donations still draws a handful of boxes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from explorer.models import FlowLink, FlowNode, FlowNodeKind, FundFlow
from ledger.store.flow_sums import FlowSums

MAX_BOXES = 6
"""Boxes per column before the smallest are drawn together as one "others" box."""

UNSPENT: FlowNodeKind = "unspent"
REFUNDED: FlowNodeKind = "refunded"


@dataclass
class _Graph:
    nodes: dict[str, FlowNode] = field(default_factory=dict)
    links: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def node(
        self,
        node_id: str,
        column: int,
        kind: FlowNodeKind,
        *,
        ref: str | None = None,
        name: str | None = None,
        detail: str | None = None,
    ) -> str:
        if node_id not in self.nodes:
            self.nodes[node_id] = FlowNode(
                id=node_id, column=column, kind=kind, ref=ref, name=name, detail=detail, amount=0
            )
        return node_id

    def link(self, source: str, target: str, amount: int) -> None:
        if amount > 0:
            self.links[(source, target)] += amount

    def throughput(self) -> dict[str, int]:
        incoming: dict[str, int] = defaultdict(int)
        outgoing: dict[str, int] = defaultdict(int)
        for (source, target), amount in self.links.items():
            outgoing[source] += amount
            incoming[target] += amount
        return {key: max(incoming[key], outgoing[key]) for key in self.nodes}

    def merge_small(self, column: int, keep: int) -> None:
        """Draw the smallest boxes of ``column`` (beyond ``keep``) as one "others" box."""
        amounts = self.throughput()
        mergeable = [
            n.id
            for n in self.nodes.values()
            if n.column == column and n.kind not in (UNSPENT, REFUNDED)
        ]
        if len(mergeable) <= keep + 1:
            return
        mergeable.sort(key=lambda key: (-amounts[key], key))
        merged = set(mergeable[keep:])
        others = self.node(f"others:{column}", column, "others", name=str(len(merged)))
        links: dict[tuple[str, str], int] = defaultdict(int)
        for (source, target), amount in self.links.items():
            links[
                (others if source in merged else source, others if target in merged else target)
            ] += amount
        self.links = links
        for key in merged:
            del self.nodes[key]

    def flow(self, currency: str) -> FundFlow:
        amounts = self.throughput()
        order = {"donations": 0, "project": 0, "general_fund": 0, "use": 0, "others": 1}
        order |= {UNSPENT: 2, REFUNDED: 3}
        nodes = sorted(
            (
                node.model_copy(update={"amount": amounts[node.id]})
                for node in self.nodes.values()
                if amounts[node.id] > 0
            ),
            key=lambda n: (n.column, order[n.kind], -amounts[n.id], n.id),
        )
        links = [
            FlowLink(source=source, target=target, amount=amount)
            for (source, target), amount in sorted(self.links.items())
            if amount > 0
        ]
        return FundFlow(currency=currency, nodes=nodes, links=links)


def fund_flows(sums: FlowSums) -> list[FundFlow]:
    """The fund flows of a charity, or of one of its projects, one per currency.

    For a project, ``sums`` hold the donations earmarked to it (all of their money:
    spent, unspent, refunded) and the general-fund donations only as far as they paid its
    disbursements (``ReadModel.flow_sums``).
    """
    titles = sums.titles
    graphs: dict[str, _Graph] = defaultdict(_Graph)

    def source(graph: _Graph, earmark: str | None) -> str:
        return graph.node(
            f"donations:{earmark or ''}",
            0,
            "donations",
            ref=earmark,
            name=titles.get(earmark) if earmark else None,
        )

    for held in sums.held:
        graph = graphs[held.currency]
        origin = source(graph, held.project_id)
        graph.link(origin, graph.node(UNSPENT, 1, UNSPENT), held.held)
        graph.link(origin, graph.node(REFUNDED, 1, REFUNDED), held.refunded)
    uses: dict[tuple[str, str], str] = {}
    for row in sums.spent:
        graph = graphs[row.currency]
        origin = source(graph, row.earmark)
        if row.spent_on is None:
            middle = graph.node("general_fund", 1, "general_fund")
        else:
            middle = graph.node(
                f"project:{row.spent_on}",
                1,
                "project",
                ref=row.spent_on,
                name=titles.get(row.spent_on),
            )
        key = (row.payee, row.purpose)
        use_id = uses.setdefault(key, f"use:{len(uses)}")
        use = graph.node(use_id, 2, "use", name=row.payee, detail=row.purpose)
        amount = row.amount
        graph.link(origin, middle, amount)
        graph.link(middle, use, amount)
    flows = []
    for currency in sorted(graphs):
        graph = graphs[currency]
        for column in (0, 1, 2):
            graph.merge_small(column, MAX_BOXES)
        flow = graph.flow(currency)
        if flow.links:
            flows.append(flow)
    return flows

"""Fund flows drawn as a Sankey-like SVG, on the server: no script, no CDN, any browser.

Boxes are stacked in three columns, each as tall as the money through it; bands join
them, as wide as the money they carry. Every text (project titles, payees, purposes,
which charities write) is escaped, in the drawing and in the table beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from explorer.models import FlowNode, FundFlow

WIDTH = 760
NODE_WIDTH = 14
GAP = 34
"""Vertical room between boxes: two lines of label."""
SCALE_HEIGHT = 320
"""The tallest column's boxes, without the gaps, in SVG units."""
MARGIN = 12
MIN_BOX = 3
LABEL_CHARS = 26
COLUMN_X = (0, (WIDTH - NODE_WIDTH) // 2, WIDTH - NODE_WIDTH)
COLOURS = {
    "donations": "#2b6cb0",
    "project": "#276749",
    "general_fund": "#2f855a",
    "use": "#975a16",
    "unspent": "#4a5568",
    "refunded": "#c53030",
    "others": "#718096",
}

Translate = Callable[..., str]
Money = Callable[[int, str], str]


@dataclass
class _Box:
    node: FlowNode
    x: float
    y: float
    height: float
    out_y: float = 0.0
    in_y: float = 0.0


def node_label(node: FlowNode, _: Translate) -> str:
    """What a box is called, in the page's language (the JSON keeps only the facts)."""
    if node.kind == "donations":
        if node.ref is None:
            return _("General fund donations")
        return _("Donations to %(title)s", title=node.name or node.ref)
    if node.kind == "project":
        return node.name or node.ref or ""
    if node.kind == "general_fund":
        return _("General fund spending")
    if node.kind == "use":
        return f"{node.name} · {node.detail}"
    if node.kind == "unspent":
        return _("Not yet spent")
    if node.kind == "refunded":
        return _("Refunded")
    return _("%(count)s others", count=node.name or "")


def _truncate(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _layout(flow: FundFlow) -> tuple[dict[str, _Box], float, float]:
    columns: dict[int, list[FlowNode]] = defaultdict(list)
    for node in flow.nodes:
        columns[node.column].append(node)
    tallest = max((sum(n.amount for n in nodes) for nodes in columns.values()), default=1)
    scale = SCALE_HEIGHT / max(tallest, 1)
    heights = {
        column: sum(max(n.amount * scale, MIN_BOX) for n in nodes) + GAP * (len(nodes) - 1)
        for column, nodes in columns.items()
    }
    height = max(heights.values(), default=0) + 2 * MARGIN + GAP
    boxes: dict[str, _Box] = {}
    for column, nodes in columns.items():
        y = MARGIN + GAP / 2 + (height - 2 * MARGIN - GAP - heights[column]) / 2
        for node in nodes:
            box_height = max(node.amount * scale, MIN_BOX)
            boxes[node.id] = _Box(node=node, x=COLUMN_X[node.column], y=y, height=box_height)
            boxes[node.id].out_y = boxes[node.id].in_y = y
            y += box_height + GAP
    return boxes, scale, height


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sankey_svg(
    flow: FundFlow, *, ident: str, title: str, translate: Translate, money: Money
) -> Markup:
    """The flow as an inline SVG element.

    Args:
        flow: the graph.
        ident: unique on the page, for the title's and description's ids.
        title: the drawing's accessible name.
        translate: the page's ``_``.
        money: formats an amount of minor units.
    """
    boxes, scale, height = _layout(flow)
    parts: list[Markup] = []
    ordered = sorted(
        flow.links,
        key=lambda link: (boxes[link.source].y, boxes[link.target].y),
    )
    for link in ordered:
        source, target = boxes[link.source], boxes[link.target]
        width = max(link.amount * scale, 1.0)
        x0, x1 = source.x + NODE_WIDTH, target.x
        y0, y1 = source.out_y, target.in_y
        source.out_y += width
        target.in_y += width
        middle = (x0 + x1) / 2
        n = _number
        path = (
            f"M{n(x0)},{n(y0)} C{n(middle)},{n(y0)} {n(middle)},{n(y1)} {n(x1)},{n(y1)} "
            f"L{n(x1)},{n(y1 + width)} C{n(middle)},{n(y1 + width)} {n(middle)},{n(y0 + width)} "
            f"{n(x0)},{n(y0 + width)} Z"
        )
        tip = (
            f"{node_label(source.node, translate)} → {node_label(target.node, translate)}: "
            f"{money(link.amount, flow.currency)}"
        )
        parts.append(
            Markup('<path d="{}" fill="{}" fill-opacity="0.32"><title>{}</title></path>').format(
                path, COLOURS[source.node.kind], tip
            )
        )
    for box in boxes.values():
        label = node_label(box.node, translate)
        amount = money(box.node.amount, flow.currency)
        right = box.node.column < 2
        text_x = box.x + NODE_WIDTH + 6 if right else box.x - 6
        middle_y = box.y + box.height / 2
        parts.append(
            Markup(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
            ).format(
                _number(box.x),
                _number(box.y),
                NODE_WIDTH,
                _number(box.height),
                COLOURS[box.node.kind],
                label,
                amount,
            )
        )
        parts.append(
            Markup(
                '<text x="{x}" y="{y}" text-anchor="{anchor}" class="flow-label">'
                '<tspan x="{x}" dy="-0.25em">{label}</tspan>'
                '<tspan x="{x}" dy="1.2em" class="flow-amount">{amount}</tspan></text>'
            ).format(
                x=_number(text_x),
                y=_number(middle_y),
                anchor="start" if right else "end",
                label=_truncate(label),
                amount=amount,
            )
        )
    description = translate(
        "Money flows from the donations on the left, through where it is now, to the "
        "payees on the right. The table below lists the same amounts."
    )
    return Markup(
        '<svg class="flow" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="{i}-title {i}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{i}-title">{title}</title><desc id="{i}-desc">{desc}</desc>{body}</svg>'
    ).format(
        w=WIDTH,
        h=_number(height),
        i=ident,
        title=title,
        desc=description,
        body=Markup("").join(parts),
    )


def flow_rows(flow: FundFlow, translate: Translate) -> list[tuple[str, str, int]]:
    """The flow's bands as (from, to, amount) rows, for the table beside the drawing."""
    nodes = {node.id: node for node in flow.nodes}
    return [
        (
            node_label(nodes[link.source], translate),
            node_label(nodes[link.target], translate),
            link.amount,
        )
        for link in flow.links
    ]

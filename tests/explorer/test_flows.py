"""Fund flows: the graph adds up, and the drawing shows it."""

from __future__ import annotations

from collections import defaultdict

import pytest

from explorer import diagram, flows
from explorer.models import FundFlow
from explorer.views import PublicViews
from ledger.currencies import money
from ledger.store.journal import Store
from tests import factories as f
from tests.explorer.conftest import World


def _views(world: World) -> PublicViews:
    return PublicViews(store=world.store, public_url="http://testserver")


def _sums(flow: FundFlow) -> tuple[dict[str, int], dict[str, int]]:
    incoming: dict[str, int] = defaultdict(int)
    outgoing: dict[str, int] = defaultdict(int)
    for link in flow.links:
        outgoing[link.source] += link.amount
        incoming[link.target] += link.amount
    return incoming, outgoing


def test_charity_flow_sends_every_fen_received_somewhere(sqlite_world: World) -> None:
    [flow] = _views(sqlite_world).fund_flows(charity_id=sqlite_world.charity_id)
    assert flow.currency == "CNY"
    nodes = {n.id: n for n in flow.nodes}
    incoming, outgoing = _sums(flow)
    sources = [n for n in flow.nodes if n.column == 0]
    assert sum(n.amount for n in sources) == 10_000 + 2_500 + 50_000 + 8_800
    for node in flow.nodes:  # every box is as big as the money through it
        assert node.amount == max(incoming[node.id], outgoing[node.id])
    for node in flow.nodes:
        if node.column == 1 and node.kind in ("project", "general_fund"):
            assert incoming[node.id] == outgoing[node.id]  # spent money reaches a payee
    assert nodes["unspent"].amount == 6_500 + 30_000 + 8_000
    assert nodes["refunded"].amount == 800
    assert nodes["general_fund"].amount == 20_000
    assert nodes[f"project:{sqlite_world.project_id}"].amount == 6_000
    payees = {n.name for n in flow.nodes if n.kind == "use"}
    assert payees == {"大理服装厂", "<img src=x onerror=alert(3)>书店"}  # not the voided one


def test_project_flow_shows_its_earmarked_donations_and_general_fund_it_spent(
    sqlite_world: World,
) -> None:
    views = _views(sqlite_world)
    [flow] = views.fund_flows(
        charity_id=sqlite_world.charity_id, project_id=sqlite_world.project_id
    )
    sources = {n.ref: n.amount for n in flow.nodes if n.column == 0}
    assert sources == {sqlite_world.project_id: 12_500}
    middle = {n.id for n in flow.nodes if n.column == 1}
    assert middle == {f"project:{sqlite_world.project_id}", "unspent"}


def test_small_boxes_are_drawn_together_as_others(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    charity = f.charity()
    ch = charity.body["charity_id"]
    donation = f.donation(ch, None, 100_000)
    drafts = [charity, donation]
    for i in range(flows.MAX_BOXES + 4):
        disbursement = f.disbursement(ch, None, 1_000 + i, payee=f"payee {i}", purpose="p")
        drafts += [
            disbursement,
            f.allocation(
                ch,
                donation.body["donation_id"],
                disbursement.body["disbursement_id"],
                1_000 + i,
            ),
        ]
    store.append(drafts)
    views = PublicViews(store=store, public_url="http://testserver")
    [flow] = views.fund_flows(charity_id=ch)
    uses = [n for n in flow.nodes if n.column == 2]
    assert len(uses) == flows.MAX_BOXES + 1
    [others] = [n for n in uses if n.kind == "others"]
    assert others.name == "4"  # the four smallest
    assert others.amount == sum(1_000 + i for i in range(4))
    incoming, _ = _sums(flow)
    assert sum(incoming[n.id] for n in uses) == sum(1_000 + i for i in range(flows.MAX_BOXES + 4))
    store.engine.dispose()


def test_charity_without_money_has_no_flow(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    charity = f.charity()
    store.append([charity])
    views = PublicViews(store=store, public_url="http://testserver")
    assert views.fund_flows(charity_id=charity.body["charity_id"]) == []
    store.engine.dispose()


def test_drawing_has_a_box_and_a_label_per_node_and_a_band_per_link(sqlite_world: World) -> None:
    [flow] = _views(sqlite_world).fund_flows(charity_id=sqlite_world.charity_id)
    svg = diagram.sankey_svg(
        flow, ident="f", title="t", translate=lambda m, **v: m % v if v else m, money=money
    )
    assert svg.count("<rect ") == len(flow.nodes)
    assert svg.count("<path ") == len(flow.links)
    assert svg.count('class="flow-label"') == len(flow.nodes)
    assert 'aria-labelledby="f-title f-desc"' in svg
    for node in flow.nodes:
        assert money(node.amount, "CNY") in svg


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (12_345, "CNY", "¥123.45"),
        (5, "CNY", "¥0.05"),
        (1_000_000_000_000, "CNY", "¥10,000,000,000.00"),
        (-250, "CNY", "-¥2.50"),
        (12_345, "USD", "123.45 USD"),
        (12_345, "JPY", "12,345 JPY"),
        (12_345, "KWD", "12.345 KWD"),
    ],
)
def test_money_is_split_into_major_and_minor_units_without_floats(
    amount: int, currency: str, shown: str
) -> None:
    assert money(amount, currency) == shown

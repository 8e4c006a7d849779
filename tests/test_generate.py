"""Synthetic firm networks (`timeline.io.generate`): deterministic, acyclic, valid, round-trips."""

from __future__ import annotations

import graphlib

import pytest

from timeline.errors import TimelineError
from timeline.io.firmsio import read_firms
from timeline.io.generate import (
    generate_firms,
    read_firms_parquet,
    with_firms,
    write_firms,
)
from timeline.model.scenario import Firm, Scenario, SupplierLink

N = 600


@pytest.fixture(scope="module")
def archetypes(default_scenario: Scenario) -> tuple[Firm, ...]:
    return default_scenario.firms


@pytest.fixture(scope="module")
def network(archetypes: tuple[Firm, ...]) -> tuple[Firm, ...]:
    return generate_firms(archetypes, N, seed=7)


def test_same_seed_same_network(archetypes, network) -> None:
    assert generate_firms(archetypes, N, seed=7) == network
    assert generate_firms(archetypes, N, seed=8) != network


def test_ids_name_their_archetype(archetypes, network) -> None:
    kinds = {firm.id for firm in archetypes}
    assert len({firm.id for firm in network}) == N
    for position, firm in enumerate(network):
        archetype, _, number = firm.id.rpartition("-")
        assert archetype in kinds
        assert number == f"{position:06d}"


def test_links_point_backwards_to_the_archetypes_suppliers(archetypes, network) -> None:
    by_id = {firm.id: firm for firm in archetypes}
    position = {firm.id: i for i, firm in enumerate(network)}
    for i, firm in enumerate(network):
        archetype = by_id[firm.id.rpartition("-")[0]]
        wanted = {link.firm for link in archetype.suppliers}
        for link in firm.suppliers:
            assert position[link.firm] < i
            assert link.firm.rpartition("-")[0] in wanted
        got = {link.firm.rpartition("-")[0] for link in firm.suppliers}
        assert got == wanted  # every archetype link is kept


def test_no_cycles(network) -> None:
    graph = {firm.id: [link.firm for link in firm.suppliers] for firm in network}
    order = list(graphlib.TopologicalSorter(graph).static_order())
    assert len(order) == N


def test_link_shares_stay_valid(archetypes, network) -> None:
    by_id = {firm.id: firm for firm in network}
    kinds = {firm.id: firm for firm in archetypes}
    split = 0
    for firm in network:
        archetype = kinds[firm.id.rpartition("-")[0]]
        for link in archetype.suppliers:  # each archetype link's share is kept, maybe split
            parts = [x for x in firm.suppliers if x.firm.rpartition("-")[0] == link.firm]
            assert sum(x.share for x in parts) == pytest.approx(link.share, abs=1e-12)
            assert all(0 < x.share <= 1 for x in parts)
            split += len(parts) > 1
        if firm.elements:
            magnets = sum(
                link.share
                for link in firm.suppliers
                if by_id[link.firm].sector.startswith("magnets")
            )
            assert firm.china_share + magnets <= 1 + 1e-9
    assert split > 0  # second sourcing happens


def test_validates_as_a_scenario(default_scenario, network) -> None:
    scenario = with_firms(default_scenario, network)
    assert scenario.firms == network
    assert scenario.fingerprint != default_scenario.fingerprint


def test_with_firms_revalidates(default_scenario, network) -> None:
    def broken(links: tuple[SupplierLink, ...]) -> list[Firm]:
        firms = list(network)
        firms[0] = firms[0].model_copy(update={"suppliers": links})
        return firms

    with pytest.raises(TimelineError, match="unknown supplier"):
        with_firms(default_scenario, broken((SupplierLink(firm="nobody", buffer_days=1.0),)))
    customer = next(f for f in network if any(x.firm == network[0].id for x in f.suppliers))
    loop = (SupplierLink(firm=customer.id, buffer_days=1.0),)
    with pytest.raises(TimelineError, match="cycle"):
        with_firms(default_scenario, broken(loop))


def test_fewer_firms_than_archetypes(archetypes) -> None:
    few = generate_firms(archetypes, 5, seed=0)
    assert len(few) == 5
    known = {firm.id for firm in few}
    assert all(link.firm in known for firm in few for link in firm.suppliers)


def test_bad_counts_are_refused(archetypes) -> None:
    with pytest.raises(TimelineError):
        generate_firms(archetypes, 0, seed=0)


def test_csv_round_trip(tmp_path, network) -> None:
    path = tmp_path / "firms.csv"
    assert write_firms(network, path) == "csv"
    assert read_firms(path) == network


def test_parquet_round_trip(tmp_path, network) -> None:
    path = tmp_path / "firms.parquet"
    assert write_firms(network, path) == "parquet"
    assert path.read_bytes().startswith(b"PAR1")
    assert read_firms_parquet(path) == network


def test_distributions_round_trip(tmp_path, archetypes) -> None:
    from timeline.model.uncertain import parse_cell

    spread = parse_cell("triangular(30 60 90)")
    lead = parse_cell("uniform(5 9)")
    changed = tuple(
        firm.model_copy(update={"inventory_days": spread, "lead_time_days": lead})
        if i % 2
        else firm
        for i, firm in enumerate(archetypes)
    )
    network = generate_firms(changed, 200, seed=1)
    assert any(firm.inventory_days == spread for firm in network)
    write_firms(network, tmp_path / "firms.csv")
    write_firms(network, tmp_path / "firms.parquet")
    assert read_firms(tmp_path / "firms.csv") == network
    assert read_firms_parquet(tmp_path / "firms.parquet") == network


def test_parquet_is_checked_like_csv(tmp_path, network) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "firms.parquet"
    write_firms(network, path)
    table = pq.read_table(path)
    shares = table.column("china_share").to_pylist()
    shares[3] = 2.5
    index = table.column_names.index("china_share")
    bad = table.set_column(index, "china_share", [shares])
    pq.write_table(bad, path)
    with pytest.raises(TimelineError, match="row 5"):
        read_firms_parquet(path)
    path.write_bytes(b"not parquet")
    with pytest.raises(TimelineError, match="Parquet"):
        read_firms_parquet(path)


def test_parquet_row_cap(tmp_path, network, monkeypatch) -> None:
    path = tmp_path / "firms.parquet"
    write_firms(network, path)
    monkeypatch.setenv("TIMELINE_MAX_FIRMS", "100")
    with pytest.raises(TimelineError, match="more than 100 firms"):
        read_firms_parquet(path)


def test_cli_generate(tmp_path) -> None:
    from typer.testing import CliRunner

    from timeline.cli import app

    out = tmp_path / "net.parquet"
    result = CliRunner().invoke(app, ["firms", "generate", "--n", "200", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(read_firms_parquet(out)) == 200
    csv_out = tmp_path / "net.csv"
    args = ["firms", "generate", "--n", "200", "--seed", "3", "--out", str(csv_out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert len(read_firms(csv_out)) == 200


def test_a_parquet_firm_table_loads_like_the_csv(tmp_path):
    """`--firms x.parquet` gives the same firms as the same table written as CSV."""
    from timeline.io import generate as g
    from timeline.io.loader import load_scenario

    base = load_scenario()
    firms = g.generate_firms(base.firms, 60, 3)
    (tmp_path / "f.parquet").write_bytes(g.firms_parquet(firms))
    (tmp_path / "f.csv").write_bytes(g.firms_csv(firms))
    a = load_scenario(None, tmp_path / "f.parquet").firms
    b = load_scenario(None, tmp_path / "f.csv").firms
    assert a == b
    assert len(a) == 60

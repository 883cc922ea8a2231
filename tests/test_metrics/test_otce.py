import numpy as np
import ot
import pytest
import torch
from scipy.sparse import coo_array
from scipy.sparse.csgraph import bellman_ford, dijkstra

from mmseg_trf.metrics import optimal_transport, otce, otce_label_joint
from mmseg_trf.metrics.optimal_transport import sparse_emd
from . import reference
from .conftest import make_features


def shifted_pair(n, d=5, seed=0):
    xs, ys = make_features(n=n, d=d, classes=4, seed=seed, separation=2.0)
    xt, yt = make_features(
        n=n, d=d, classes=3, seed=seed + 100, separation=2.0)
    return xs, ys, xt + 0.5, yt


def test_emd_equals_loop_formula_on_exact_coupling():
    xs, ys, xt, yt = shifted_pair(60)
    plan = ot.emd(ot.unif(60), ot.unif(60), ot.dist(xs, xt), numItermax=10**7)
    assert otce(
        xs, ys, xt, yt, solver='emd') == pytest.approx(
            reference.otce_from_plan(plan, ys, yt), abs=1e-12)


def test_emd_on_tiny_input_is_a_permutation():
    xs, ys, xt, yt = shifted_pair(12)
    plan = optimal_transport.dense_emd(
        torch.from_numpy(xs), torch.from_numpy(xt),
        optimal_transport.uniform(12, torch.zeros(1)),
        optimal_transport.uniform(12, torch.zeros(1)))
    assert np.allclose(np.sort(plan, axis=1)[:, -1], 1 / 12)
    assert np.count_nonzero(plan > 1e-12) == 12


def test_identity_coupling_with_function_of_source_labels_gives_zero():
    xs, ys = make_features(n=80, d=4, classes=6, seed=3)
    assert otce(xs, ys, xs.copy(), ys // 2) == pytest.approx(0.0, abs=1e-12)


def test_product_coupling_gives_minus_target_entropy():
    # Identical source points: every coupling costs the same, and the large
    # entropic regularisation returns the product coupling.
    xt, yt = make_features(n=50, d=3, classes=4, seed=4)
    xs = np.zeros((40, 3))
    ys = np.arange(40) % 3
    freq = np.bincount(yt) / len(yt)
    expected = float(np.sum(freq * np.log(freq)))
    assert otce(
        xs, ys, xt, yt, solver='sinkhorn', eps=1e6) == pytest.approx(
            expected, abs=1e-9)


def test_sinkhorn_matches_log_domain_reference():
    xs, ys, xt, yt = shifted_pair(40, d=3, seed=5)
    xs, xt = xs / 4, xt / 4  # costs of order 1, so eps = 0.1 converges
    plan = reference.sinkhorn_log_plan(xs, xt, eps=0.1)
    expected = reference.otce_from_plan(plan, ys, yt)
    assert otce(
        xs, ys, xt, yt, solver='sinkhorn', eps=0.1) == pytest.approx(
            expected, abs=1e-3)


@pytest.mark.parametrize('n, m', [(1600, 1500), (1500, 1500)])
def test_sparse_emd_equals_dense_exact_solution(n, m):
    assert n * m > optimal_transport.DENSE_PAIRS  # the column-generation path
    rng = np.random.default_rng(7)
    xs, ys = make_features(n=n, d=6, classes=5, seed=7, separation=3.0)
    xt, yt = make_features(n=m, d=6, classes=4, seed=8, separation=3.0)
    xt = xt + rng.normal(0, 1, 6)
    xs_t, xt_t = torch.from_numpy(xs), torch.from_numpy(xt)
    sparse = sparse_emd(xs_t, xt_t)
    cost = ot.dist(xs, xt)
    dense = ot.emd(ot.unif(n), ot.unif(m), cost, numItermax=10**8)
    assert sparse.nnz <= n + m - 1
    assert np.allclose(sparse.sum(1), 1 / n) and np.allclose(
        sparse.sum(0), 1 / m)
    sparse_cost = float((sparse.toarray() * cost).sum())
    assert sparse_cost == pytest.approx(float((dense * cost).sum()), rel=1e-12)
    assert otce(xs, ys, xt, yt) == pytest.approx(
        otce(xs, ys, xt, yt, solver='emd'), abs=1e-9)


def spy_warm_starts(monkeypatch):
    """Record the shape of every warm-started (dense) network simplex."""
    warm_starts = []
    solve = optimal_transport.network_simplex

    def spy(a, b, cost, **kwargs):
        if kwargs.get('potentials_init') is not None:
            warm_starts.append(cost.shape)
        return solve(a, b, cost, **kwargs)

    monkeypatch.setattr(optimal_transport, 'network_simplex', spy)
    return warm_starts


@pytest.mark.parametrize(
    'stalled_rows, fallback_pairs, handed_over',
    [
        (0.0, 1 << 28, True),  # every first round counts as stalled
        (0.0, 1000, False),  # but the dense costs would not fit
        (1.0, 1 << 28, False),  # never stalled
    ])
def test_stalled_column_generation_hands_over_to_warm_dense_simplex(
        monkeypatch, stalled_rows, fallback_pairs, handed_over):
    n, m = 1600, 1500
    xs, _ = make_features(n=n, d=6, classes=5, seed=5, separation=3.0)
    xt, _ = make_features(n=m, d=6, classes=4, seed=6, separation=3.0)
    monkeypatch.setattr(optimal_transport, 'STALLED_ROWS', stalled_rows)
    monkeypatch.setattr(optimal_transport, 'DENSE_FALLBACK_PAIRS',
                        fallback_pairs)
    warm_starts = spy_warm_starts(monkeypatch)
    # two candidates per point: the first round leaves rows violating
    plan = sparse_emd(torch.from_numpy(xs), torch.from_numpy(xt), candidates=2)
    assert (warm_starts == [(n, m)]) == handed_over
    cost = ot.dist(xs, xt)
    optimum = ot.emd2(ot.unif(n), ot.unif(m), cost, numItermax=10**8)
    assert float((plan.toarray() * cost).sum()) == pytest.approx(
        optimum, rel=1e-12)


def solved_on(pairs, xs, xt):
    """The restricted optimum of uniform weights on ``pairs``, with the
    costs (and tolerance) of :func:`sparse_emd`'s checks."""
    a = optimal_transport.uniform(len(xs), xs)
    b = optimal_transport.uniform(len(xt), xt)
    no_potentials = (torch.zeros_like(a), torch.zeros_like(b))
    plan, u, v = optimal_transport._solve_restricted(xs, xt, a, b, *pairs,
                                                     no_potentials)
    return plan, u, v, optimal_transport.ReducedCosts(xs, xt)


def test_restricted_solve_returns_the_problems_duals_from_any_warm_start():
    """Solved on reduced costs, the plan's cost is the optimum of the
    restricted problem and the returned duals are those of the raw costs:
    feasible on the pairs and tight on the plan's support."""
    rng = np.random.default_rng(3)
    n, m = 120, 100
    xs = torch.from_numpy(rng.normal(size=(n, 3)))
    xt = torch.from_numpy(rng.normal(size=(m, 3)))
    a = optimal_transport.uniform(n, xs)
    b = optimal_transport.uniform(m, xt)
    rows, cols = every_pair(n, m)
    cost = ((xs[:, None] - xt[None])**2).sum(-1)
    optimum = ot.emd2(a.numpy(), b.numpy(), cost.numpy())
    for potentials in [(torch.zeros(n).double(), torch.zeros(m).double()),
                       (torch.from_numpy(rng.normal(size=n) * 5),
                        torch.from_numpy(rng.normal(size=m) * 5))]:
        plan, u, v = optimal_transport._solve_restricted(
            xs, xt, a, b, rows, cols, potentials)
        reduced = cost - u[:, None] - v[None]
        assert float((plan.toarray() * cost.numpy()).sum()) == pytest.approx(
            optimum, rel=1e-12)
        assert float(reduced.min()) > -1e-9
        assert float(reduced[plan.row, plan.col].abs().max()) < 1e-9


def every_pair(n, m):
    rows, cols = torch.meshgrid(
        torch.arange(n), torch.arange(m), indexing='ij')
    return rows.flatten(), cols.flatten()


def test_repaired_potentials_certify_a_plan_solved_on_fewer_pairs():
    """The optimum's support plus a few pairs gives the optimal plan, but
    its own potentials violate pairs it did not see; repaired, they are
    feasible on every pair and tight on the plan."""
    rng = np.random.default_rng(0)
    n = m = 300
    xs = torch.from_numpy(rng.normal(size=(n, 4)))
    xt = torch.from_numpy(rng.normal(size=(m, 4)) + 0.3)
    cost = ((xs[:, None] - xt[None])**2).sum(-1)  # as the checks
    optimum = coo_array(ot.emd(ot.unif(n), ot.unif(m), cost.numpy()))
    extra = torch.from_numpy(rng.integers(0, n, size=(2, 2 * (n + m))))
    support_rows, support_cols = optimal_transport._support(optimum, 'cpu')
    pruned = optimal_transport._unique_pairs(
        torch.cat([support_rows, extra[0]]),
        torch.cat([support_cols, extra[1]]), m)
    plan, u, v, costs = solved_on(pruned, xs, xt)
    assert float((cost - u[:, None] - v[None]).min()) < -100 * costs.tol
    u, v = optimal_transport._repaired_potentials(costs, plan, u, v,
                                                  *every_pair(n, m))
    reduced = cost - u[:, None] - v[None]
    assert float(reduced.min()) >= -costs.tol / 2
    assert float(reduced[plan.row, plan.col].abs().max()) <= costs.tol / 2
    assert float((plan.toarray() * cost.numpy()).sum()) == pytest.approx(
        float((optimum.toarray() * cost.numpy()).sum()), rel=1e-12)


def test_repair_refuses_a_plan_that_is_not_optimal_on_the_candidates():
    rng = np.random.default_rng(1)
    n = m = 200
    xs = torch.from_numpy(rng.normal(size=(n, 3)))
    xt = torch.from_numpy(rng.normal(size=(m, 3)))
    # the monotone coupling along one axis: feasible, far from optimal
    plan, u, v, costs = solved_on(
        optimal_transport._feasible_pairs(xs, xt,
                                          optimal_transport.uniform(n, xs),
                                          optimal_transport.uniform(m, xt)),
        xs, xt)
    assert optimal_transport._repaired_potentials(costs, plan, u, v,
                                                  *every_pair(n, m)) is None


def test_shortest_path_shifts_match_bellman_ford():
    """Distances from a virtual source joined to every node by length 0,
    on a random graph with negative arcs and no negative cycle (lengths are
    reduced costs of node potentials: a cycle's length is that of its
    non-negative base lengths)."""
    rng = np.random.default_rng(2)
    nodes, arcs = 300, 3000
    tails = rng.integers(0, nodes, size=arcs)
    heads = rng.integers(0, nodes, size=arcs)
    keep = np.unique(tails * nodes + heads)
    tails, heads = keep // nodes, keep % nodes
    potential = rng.normal(size=nodes)
    lengths = rng.random(len(tails)) + potential[tails] - potential[heads]
    assert (lengths < 0).sum() > 100
    shifts = optimal_transport._shortest_path_shifts(tails, heads, lengths,
                                                     nodes, 1e-12)
    graph = coo_array(
        (np.concatenate([lengths, np.zeros(nodes)]),
         (np.concatenate([tails, np.full(nodes, nodes)
                          ]), np.concatenate([heads, np.arange(nodes)]))),
        shape=(nodes + 1, nodes + 1)).tocsr()
    expected = bellman_ford(graph, indices=nodes)[:nodes]
    np.testing.assert_allclose(shifts, expected, atol=1e-9)


def test_shortest_path_shifts_end_in_two_rounds_on_a_long_chain(monkeypatch):
    """One negative arc before a chain of 5,000 zero-length arcs (a plan's
    tight support): Bellman-Ford passes would take one per arc."""
    nodes = 5001
    tails, heads = np.arange(nodes - 1), np.arange(1, nodes)
    lengths = np.zeros(nodes - 1)
    lengths[0] = -1.0
    calls = []
    monkeypatch.setattr(
        optimal_transport, 'dijkstra',
        lambda *args, **kwargs: calls.append(1) or dijkstra(*args, **kwargs))
    shifts = optimal_transport._shortest_path_shifts(tails, heads, lengths,
                                                     nodes, 1e-12)
    assert shifts[0] == 0 and (shifts[1:] == -1).all()
    assert len(calls) == 1


def test_shortest_path_shifts_stop_at_a_negative_cycle_only():
    # 0 -> 1 -> 2 -> 0, plus a chain 2 -> 3
    tails, heads = np.array([0, 1, 2, 2]), np.array([1, 2, 0, 3])
    negative = np.array([-1.0, 0.5, 0.3, 0.0])
    assert optimal_transport._shortest_path_shifts(tails, heads, negative, 4,
                                                   1e-9) is None
    # a cycle whose length is rounding, within the step: not a failure
    rounding = np.array([-1.0, 0.5, 0.5 - 1e-12, 0.0])
    shifts = optimal_transport._shortest_path_shifts(tails, heads, rounding, 4,
                                                     1e-9)
    np.testing.assert_allclose(shifts, [0, -1, -0.5, -0.5], atol=1e-9)


def test_node_on_cycle_of_a_predecessor_graph():
    forest = np.array([-1, 0, 1, 1, -1, 4])
    assert optimal_transport._node_on_cycle(forest) is None
    # 5 -> 4 -> 3 -> 2 -> 1 -> 3: the tail leads into the cycle 1, 2, 3
    tail_and_cycle = np.array([-1, 3, 1, 2, 3, 4])
    assert optimal_transport._node_on_cycle(tail_and_cycle) in (1, 2, 3)


@pytest.mark.parametrize('repairs_fail', [False, True])
def test_rounds_on_pruned_pairs_reach_the_dense_optimum(
        monkeypatch, repairs_fail):
    """Every round after the first solves a pruned problem (whatever the
    number of violating rows); where a repair fails the round solves every
    candidate instead."""
    n, m = 1600, 1500
    xs, _ = make_features(n=n, d=6, classes=5, seed=11, separation=3.0)
    xt, _ = make_features(n=m, d=6, classes=4, seed=12, separation=3.0)
    monkeypatch.setattr(optimal_transport, 'FEW_VIOLATING_ROWS', 1.0)
    monkeypatch.setattr(optimal_transport, 'STALLED_ROWS', 1.0)
    repairs = []
    repair = optimal_transport._repaired_potentials

    def spy(*args):
        repaired = None if repairs_fail else repair(*args)
        repairs.append(repaired is not None)
        return repaired

    monkeypatch.setattr(optimal_transport, '_repaired_potentials', spy)
    # two candidates per point: several rounds
    plan = sparse_emd(torch.from_numpy(xs), torch.from_numpy(xt), candidates=2)
    assert repairs and any(repairs) != repairs_fail
    cost = ot.dist(xs, xt)
    optimum = ot.emd2(ot.unif(n), ot.unif(m), cost, numItermax=10**8)
    assert float((plan.toarray() * cost).sum()) == pytest.approx(
        optimum, rel=1e-12)


def test_neighbour_cells_pair_adjacent_points_on_a_line():
    order = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    line = torch.arange(11, dtype=torch.float64)[order, None]
    cells = optimal_transport._neighbour_cells(line)
    members = [sorted(line[cells == c, 0].tolist()) for c in cells.unique()]
    assert sorted(len(m) for m in members) == [1] + [2] * 5
    assert all(m[-1] - m[0] == 1 for m in members if len(m) == 2)


def test_neighbour_cells_are_close_pairs_in_several_dimensions():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(1000, 3)) * [4.0, 1.0, 0.1])
    cells = optimal_transport._neighbour_cells(x)
    assert torch.bincount(cells).tolist() == [2] * 500
    first, second = torch.argsort(cells, stable=True).view(500, 2).T
    paired = (x[first] - x[second]).norm(dim=1).mean()
    shuffled = (x[:500] - x[500:]).norm(dim=1).mean()
    assert paired < 0.2 * shuffled


def test_coarsened_measure_keeps_mass_and_mean():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(301, 4)))
    w = torch.from_numpy(rng.uniform(0.5, 2, 301))
    w = w / w.sum()
    centres, mass = optimal_transport._coarsened(x, w)
    assert len(centres) == 151
    assert float(mass.sum()) == pytest.approx(1.0, abs=1e-15)
    assert torch.allclose(mass @ centres, w @ x, atol=1e-14)


def test_near_one_dimensional_points_certify_without_the_dense_simplex(
        monkeypatch):
    """Points spread along a line (a SegNet of the demo holds 92% of its
    logits' variance on one axis): the coarsened problem's potentials are
    close enough that column generation certifies the optimum itself (the
    previous warm start, a random half of the points, misplaces their
    quantiles by about sqrt(n): here 70% of the rows violated and the
    level went to the dense simplex)."""
    rng = np.random.default_rng(3)
    n = m = 1600
    spread = [3.0, 0.05, 0.005]  # the previous warm start: 70% violating
    xs = rng.normal(size=(n, 3)) * spread
    xt = rng.normal(size=(m, 3)) * spread + [1.0, 0.2, 0.0]
    warm_starts = spy_warm_starts(monkeypatch)
    plan = sparse_emd(torch.from_numpy(xs), torch.from_numpy(xt))
    assert warm_starts == []
    cost = ot.dist(xs, xt)
    optimum = ot.emd2(ot.unif(n), ot.unif(m), cost, numItermax=10**8)
    assert float((plan.toarray() * cost).sum()) == pytest.approx(
        optimum, rel=1e-12)


def test_a_point_too_heavy_for_its_candidates_gets_all_its_pairs(monkeypatch):
    """One target point holds half the mass (merged duplicates): the first
    restricted problem holds its whole column, and the plan is optimal."""
    n, m = 1600, 1500
    xs, _ = make_features(n=n, d=6, classes=5, seed=1, separation=3.0)
    xt, _ = make_features(n=m, d=6, classes=4, seed=2, separation=3.0)
    a = np.full(n, 1 / n)
    b = np.full(m, 0.5 / (m - 1))
    b[7] = 0.5
    first_graphs = []
    solve = optimal_transport.network_simplex

    def spy(a, b, cost, **kwargs):
        if not isinstance(cost, np.ndarray) and cost.shape == (n, m):
            first_graphs.append(cost)
        return solve(a, b, cost, **kwargs)

    monkeypatch.setattr(optimal_transport, 'network_simplex', spy)
    plan = sparse_emd(
        torch.from_numpy(xs), torch.from_numpy(xt), torch.from_numpy(a),
        torch.from_numpy(b))
    heavy_column = first_graphs[0].tocsc()[:, [7]]
    assert heavy_column.nnz == n
    cost = ot.dist(xs, xt)
    optimum = ot.emd2(a, b, cost, numItermax=10**8)
    assert float((plan.toarray() * cost).sum()) == pytest.approx(
        optimum, rel=1e-12)
    assert np.allclose(plan.sum(0), b) and np.allclose(plan.sum(1), a)


def test_label_joint_is_a_distribution_over_present_classes():
    xs, ys, xt, yt = shifted_pair(100)
    joint = otce_label_joint(xs, ys * 3, xt, yt + 10)
    assert joint.shape == (4, 3)
    assert float(joint.sum()) == pytest.approx(1.0)


def test_sparse_emd_is_exact_under_a_large_common_shift():
    """Costs are shift-invariant; the solver centres the clouds, so an
    offset 1000x their spread still gives the optimal plan."""
    n, m = 1500, 1500
    xs, _ = make_features(n=n, d=6, classes=5, seed=3, separation=3.0)
    xt, _ = make_features(n=m, d=6, classes=4, seed=4, separation=3.0)
    shift = 1000 * max(xs.std(), xt.std())
    plan = sparse_emd(
        torch.from_numpy(xs + shift), torch.from_numpy(xt + shift))
    cost = ot.dist(xs, xt)  # exact on the unshifted points
    optimum = ot.emd2(ot.unif(n), ot.unif(m), cost, numItermax=10**8)
    assert float((plan.toarray() * cost).sum()) == pytest.approx(
        optimum, rel=1e-12)


@pytest.mark.parametrize('solver', ['sparse_emd', 'emd'])
def test_duplicate_pixels_give_one_otce_in_any_order(solver):
    """Identical pixels with different labels (as upsampled logits have)
    make the optimal coupling non-unique; merged, OTCE is one value."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3))
    xs = points[rng.integers(0, 40, 1600)]  # every point ~40 times
    xt = points[rng.integers(0, 40, 1500)] + 0.3
    ys, yt = rng.integers(0, 4, 1600), rng.integers(0, 3, 1500)
    values = []
    for seed in range(3):
        order_s = np.random.default_rng(seed).permutation(1600)
        order_t = np.random.default_rng(seed + 9).permutation(1500)
        values.append(
            otce(
                xs[order_s],
                ys[order_s],
                xt[order_t],
                yt[order_t],
                solver=solver))
    assert max(values) - min(values) < 1e-12


def test_merged_duplicates_keep_mass_and_label_shares():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0], [1.0, 2.0], [1.0, 2.0]],
                     dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0])
    points, weights, shares = optimal_transport.merge_duplicates(x, labels, 2)
    assert points.tolist() == [[0.0, 0.0], [1.0, 2.0]]
    assert weights.tolist() == [0.25, 0.75]
    np.testing.assert_allclose(shares.numpy(), [[0, 1], [2 / 3, 1 / 3]])

"""Optimal transport between pixel features and the label joint it induces.

Three solvers of the squared-L2 problem between two empirical measures:

* ``'sparse_emd'`` (default): the exact optimum by column generation. A
  sparse network simplex (POT) solves the problem restricted to a candidate
  set of pixel pairs; the dual potentials it returns are then checked
  against every pair, in blocks, and pairs that violate dual feasibility
  join the candidate set until none is left. The result is certified
  optimal for the full problem, memory stays O((n + m) k) plus one block,
  and the plan has at most n + m - 1 non-zeros, so the N x N plan is never
  stored. The first candidates are every point's best pairs under the
  potentials of the coarsened problem (each side's neighbouring points
  merged in pairs), solved the same way, level by level. A point too
  heavy for its candidates (merged duplicates: one
  logit vector may hold half the pixels) gets all its pairs from the start.
  Every restricted solve is warm-started from the latest potentials (it
  runs on the reduced costs, which POT's sparse simplex pivots through
  about ten times faster than the raw ones).
  A round after a check that found few rows violating solves only the
  plan's support, the new pairs and the tightest candidates, and repairs
  that solve's potentials on every candidate by shortest paths on the
  plan's residual graph (a solve of every candidate costs about as much
  for three violating rows as for thousands).
  Where the first round leaves most rows violating (the candidates
  were guessed badly, as on logits whose plan is far from local), the
  problem goes to the dense simplex warm-started from the round's
  potentials, if its costs fit in 2 GiB.
* ``'emd'``: POT's dense network simplex on the full cost matrix (exact; the
  seed code's solver; O(n m) memory).
* ``'sinkhorn'``: entropic OT with POT's lazy log-domain Sinkhorn
  (``reg = eps``); the label joint is summed over row blocks of the plan.
"""
import warnings
from typing import Iterator, Optional, Tuple

import numpy as np
import ot
import torch
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import dijkstra

SOLVERS = ('sparse_emd', 'emd', 'sinkhorn')
#: Row and column potentials, or pair rows and columns.
TensorPair = Tuple[torch.Tensor, torch.Tensor]

#: Reduced-cost block size (elements) of the column-generation checks.
BLOCK_ELEMENTS = 1 << 23
#: Below this many pixel pairs ``'sparse_emd'`` solves the dense problem.
DENSE_PAIRS = 1 << 21
#: Pairs added per violating row after the first round (which adds
#: ``candidates``): later rounds find few rows violating, and each
#: restricted solve costs about the same, so wider rounds mean fewer.
REFINE_CANDIDATES = 256
#: Column generation hands the problem to the dense simplex, warm-started
#: from its potentials, when more than this share of the rows still violate
#: dual feasibility after its first round (their best pairs were guessed
#: badly: then every round adds pairs for most rows; measured when the
#: restricted solves were cold-started, their rounds cost more than one
#: dense solve).
STALLED_ROWS = 0.5
#: ... if the dense cost matrix has at most this many entries (2 GiB).
DENSE_FALLBACK_PAIRS = 1 << 28
#: A round whose check finds at most this share of the rows violating
#: solves a pruned problem (:func:`_pruned_pairs`) and repairs its
#: potentials (:func:`_repaired_potentials`) instead of solving every
#: candidate pair again: a solve of every candidate costs about as much for
#: three violating rows as for thousands.
FEW_VIOLATING_ROWS = 0.01
#: Pairs per point kept by :func:`_pruned_pairs` (those of least reduced
#: cost), besides the plan's support and the new pairs.
PRUNED_PAIRS = 2
#: Iteration cap handed to POT's network simplex (its default, 1e5, stops
#: short of the optimum for a few thousand pixels).
SIMPLEX_MAX_ITER = 1 << 30


def uniform(n: int, like: torch.Tensor) -> torch.Tensor:
    """Uniform weights ``1 / n`` in float64 on ``like``'s device."""
    return torch.full((n, ), 1.0 / n, dtype=torch.float64, device=like.device)


def squared_distances(xs: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
    """Exact squared Euclidean distances of matched rows.

    Args:
        xs (Tensor): ``(k, d)``.
        xt (Tensor): ``(k, d)``.

    Returns:
        Tensor: ``(k,)`` ``||xs_i - xt_i||^2``.
    """
    return ((xs - xt)**2).sum(1)


class ReducedCosts:
    """Blocks of reduced costs ``c_ij - u_i - v_j`` of a squared-L2 problem.

    Blocks are computed in float32 with one matrix product; entries close to
    the decision threshold are recomputed exactly in float64, using a bound
    on the float32 error. ``tol`` is the checks' tolerance: a reduced cost
    above ``-tol`` counts as feasible.

    Args:
        xs (Tensor): ``(n, d)`` float64 row points.
        xt (Tensor): ``(m, d)`` float64 column points.
    """

    def __init__(self, xs: torch.Tensor, xt: torch.Tensor) -> None:
        self.xs, self.xt = xs, xt
        self.xs32, self.xt32 = xs.float(), xt.float()
        self.sq_s = (xs * xs).sum(1)
        self.sq_t = (xt * xt).sum(1)
        self.rows_per_block = max(1, BLOCK_ELEMENTS // max(1, len(xt)))
        self.tol = 1e-9 * float(self.sq_s.max() + self.sq_t.max())

    def blocks(self, u: torch.Tensor,
               v: torch.Tensor) -> Iterator[Tuple[int, torch.Tensor]]:
        """Yield ``(first_row, float32 block of reduced costs)``."""
        row_term = (self.sq_s - u).float()
        col_term = (self.sq_t - v).float()
        for start in range(0, len(self.xs), self.rows_per_block):
            stop = start + self.rows_per_block
            block = torch.addmm(
                col_term[None], self.xs32[start:stop], self.xt32.T, alpha=-2.0)
            block += row_term[start:stop, None]
            yield start, block

    def float32_error(self, u: torch.Tensor, v: torch.Tensor) -> float:
        """Upper bound on ``|float32 block - exact|`` for these potentials."""
        dim = self.xs.shape[1]
        scale = (
            float((self.sq_s - u).abs().max()) + float(
                (self.sq_t - v).abs().max()) + 2 *
            (dim + 2) * float(self.sq_s.max().sqrt() * self.sq_t.max().sqrt()))
        return 4 * torch.finfo(torch.float32).eps * scale

    def exact(self, rows: torch.Tensor, cols: torch.Tensor, u: torch.Tensor,
              v: torch.Tensor) -> torch.Tensor:
        """float64 reduced costs at the given entries."""
        return (squared_distances(self.xs[rows], self.xt[cols]) - u[rows] -
                v[cols])

    def row_minima(self, v: torch.Tensor,
                   k: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """c-transform ``u_i = min_j c_ij - v_j`` and each row's ``k`` best.

        Args:
            v (Tensor): ``(m,)`` column potentials.
            k (int): Candidates kept per row.

        Returns:
            tuple: ``u`` ``(n,)``, and candidate rows and columns.
        """
        zeros = torch.zeros_like(self.sq_s)
        minima, rows, cols = [], [], []
        k = min(k, len(self.xt))
        for start, block in self.blocks(zeros, v):
            best = torch.topk(block, k, dim=1, largest=False)
            minima.append(best.values[:, 0])
            rows.append(
                torch.arange(start, start + len(block),
                             device=block.device).repeat_interleave(k))
            cols.append(best.indices.reshape(-1))
        return torch.cat(minima).double(), torch.cat(rows), torch.cat(cols)


def _neighbour_cells(x: torch.Tensor) -> torch.Tensor:
    """Cells of at most two neighbouring points: the leaves of a k-d tree
    that splits each cell at its median along its widest principal
    direction, at an even count, so every cell but at most one holds a
    pair.

    Args:
        x (Tensor): ``(n, d)`` points.

    Returns:
        Tensor: ``(n,)`` cell index of each point, ``0 .. ceil(n / 2) - 1``.
    """
    centred = x - x.mean(0)
    frame = centred @ torch.linalg.svd(centred, full_matrices=False)[2].T
    every = torch.arange(len(x), device=x.device)
    cells = torch.zeros(len(x), dtype=torch.long, device=x.device)
    while True:
        sizes = torch.bincount(cells)
        if int(sizes.max()) <= 2:
            return cells
        count = sizes[:, None].to(frame)
        mean = frame.new_zeros(len(sizes), frame.shape[1]).index_add_(
            0, cells, frame) / count
        square = torch.zeros_like(mean).index_add_(0, cells, frame * frame)
        widest = (square / count - mean * mean).argmax(1)
        order = torch.argsort(frame[every, widest[cells]], stable=True)
        order = order[torch.argsort(cells[order], stable=True)]
        sorted_cells = cells[order]
        position = every - (torch.cumsum(sizes, 0) - sizes)[sorted_cells]
        # the lower part holds an even count (of a cell of one or two
        # points: all of it, so finished cells stay whole)
        upper = position >= (2 * ((sizes + 3) // 4))[sorted_cells]
        split = torch.empty_like(cells)
        split[order] = 2 * sorted_cells + upper
        cells = torch.unique(split, return_inverse=True)[1]


def _coarsened(x: torch.Tensor, w: torch.Tensor) -> TensorPair:
    """The measure with each cell of :func:`_neighbour_cells` merged into
    one point (the cell's weighted mean, holding the cell's mass)."""
    cells = _neighbour_cells(x)
    mass = w.new_zeros(int(cells.max()) + 1).index_add_(0, cells, w)
    centres = x.new_zeros(len(mass), x.shape[1]).index_add_(
        0, cells, x * w[:, None]) / mass[:, None]
    return centres, mass


def _coarse_potentials(xs: torch.Tensor, xt: torch.Tensor, a: torch.Tensor,
                       b: torch.Tensor, candidates: int,
                       max_rounds: int) -> torch.Tensor:
    """Column potentials from an exact solve of the coarsened problem.

    Both sides are coarsened by :func:`_coarsened` (about half the points,
    each a pair of neighbours), the coarse problem is solved by
    :func:`_exact_with_duals` itself (so large problems warm-start level
    by level), and its row potentials are extended to every column by the
    c-transform ``v_j = min_k c(x_k, y_j) - u_k``. A coarse measure is
    within a cell's width of the fine one, so its potentials are close;
    a random half (the warm start this replaced) misplaces the quantiles
    by about ``sqrt(n)`` points, which on near-1-D logits puts a row's
    optimal partner around the 80th of its candidates instead of the first.
    """
    coarse_s, mass_s = _coarsened(xs, a)
    coarse_t, mass_t = _coarsened(xt, b)
    _, u_coarse, _ = _exact_with_duals(coarse_s, coarse_t, mass_s, mass_t,
                                       candidates, max_rounds)
    # in blocks: the coarse side holds half the points, so a dense
    # (coarse x columns) matrix would grow like N^2
    return ReducedCosts(xt, coarse_s).row_minima(u_coarse, 1)[0]


def _support(plan: coo_array, device: torch.device) -> TensorPair:
    """Rows and columns of a sparse plan's entries, as index tensors."""
    return (torch.from_numpy(plan.row.astype(np.int64)).to(device),
            torch.from_numpy(plan.col.astype(np.int64)).to(device))


def _feasible_pairs(xs: torch.Tensor, xt: torch.Tensor, a: torch.Tensor,
                    b: torch.Tensor) -> TensorPair:
    """Support of a feasible plan: the monotone coupling along the first
    principal axis (POT's 1-D OT), so the restricted problem is never
    infeasible."""
    both = torch.cat([xs, xt])
    axis = torch.linalg.svd(both - both.mean(0), full_matrices=False)[2][0]
    plan = ot.emd_1d(
        (xs @ axis).cpu().numpy(), (xt @ axis).cpu().numpy(),
        a.cpu().numpy(),
        b.cpu().numpy(),
        dense=False).tocoo()
    return _support(plan, xs.device)


def _heavy_pairs(a: torch.Tensor, b: torch.Tensor,
                 candidates: int) -> TensorPair:
    """Every pair of the points too heavy for their candidate lists.

    A point whose mass is more than ``candidates`` times the other side's
    median mass must be split over more partners than its ``candidates``
    best (merged duplicates: one logit vector can hold half of a side's
    pixels). Restricted to those, the first solve prices it wrongly and its
    potential misleads every row; its whole row or column costs ``m`` or
    ``n`` pairs. The heaviest come first, up to ``candidates * (n + m)``
    pairs in all (as many as the candidate lists hold).
    """
    n, m = len(a), len(b)
    budget = candidates * (n + m) // 2

    def heaviest(weights, threshold, length):
        heavy = torch.nonzero(weights > candidates * threshold).flatten()
        order = torch.argsort(weights[heavy], descending=True)
        return heavy[order[:budget // length]]

    rows, cols = heaviest(a, b.median(), m), heaviest(b, a.median(), n)
    every_row = torch.arange(n, device=a.device)
    every_col = torch.arange(m, device=a.device)
    return (torch.cat([rows.repeat_interleave(m),
                       every_row.repeat(len(cols))]),
            torch.cat([every_col.repeat(len(rows)),
                       cols.repeat_interleave(n)]))


def _solve_restricted(
        xs: torch.Tensor, xt: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
        rows: torch.Tensor, cols: torch.Tensor, potentials: TensorPair
) -> Tuple[coo_array, torch.Tensor, torch.Tensor]:
    """Exact OT restricted to the candidate pairs (POT sparse simplex),
    warm-started from ``potentials``.

    POT's sparse solver takes no starting potentials, so it solves the
    problem on the reduced costs ``c_ij - u_i - v_j`` instead: the same
    plan (the shift changes every feasible plan's cost by the same
    ``sum u_i a_i + sum v_j b_j``), whose duals plus ``(u, v)`` are the
    problem's. Near-optimal potentials leave the pairs of the optimum
    near zero reduced cost, where the simplex's pivots find them: about
    ten times fewer pivots than on the raw costs, measured on trained
    logits (3.1 s -> 0.3 s for 214,000 pairs of 10,000 points).
    """
    u, v = potentials
    cost = (squared_distances(xs[rows], xt[cols]) - u[rows] -
            v[cols]).cpu().numpy()
    graph = coo_array((cost, (rows.cpu().numpy(), cols.cpu().numpy())),
                      shape=(len(xs), len(xt)))
    plan, log = network_simplex(
        a.cpu().numpy(), b.cpu().numpy(), graph, center_dual=False)
    device = xs.device
    return (coo_array(plan), u + torch.from_numpy(log['u']).to(device),
            v + torch.from_numpy(log['v']).to(device))


def _violations(costs: ReducedCosts, u: torch.Tensor, v: torch.Tensor,
                k: int) -> TensorPair:
    """Pairs to add, or ``(None, None)`` when the potentials are feasible.

    Entries whose float32 reduced cost is within the rounding bound of
    negative are recomputed exactly; a row with an exact violation below
    ``-costs.tol`` contributes its ``k`` most negative float32 entries and its
    most violating exact entry, which is certain to be new, so every round
    makes progress.
    """
    margin = costs.float32_error(u, v)
    rows, cols = [], []
    for start, block in costs.blocks(u, v):
        flag_r, flag_c = torch.nonzero(block < margin, as_tuple=True)
        exact = costs.exact(flag_r + start, flag_c, u, v)
        bad = exact < -costs.tol
        if not bad.any():
            continue
        flag_r, flag_c, exact = flag_r[bad], flag_c[bad], exact[bad]
        row_min = torch.full((len(block), ),
                             float('inf'),
                             dtype=exact.dtype,
                             device=exact.device)
        row_min.scatter_reduce_(0, flag_r, exact, 'amin')
        worst = exact == row_min[flag_r]
        bad_rows = torch.unique(flag_r)
        best = torch.topk(
            block[bad_rows], min(k, block.shape[1]), dim=1,
            largest=False).indices
        rows += [
            flag_r[worst] + start,
            bad_rows.repeat_interleave(best.shape[1]) + start
        ]
        cols += [flag_c[worst], best.reshape(-1)]
    if not rows:
        return None, None
    return torch.cat(rows), torch.cat(cols)


def _pruned_pairs(costs: ReducedCosts, plan: coo_array, u: torch.Tensor,
                  v: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                  new_rows: torch.Tensor,
                  new_cols: torch.Tensor) -> TensorPair:
    """Pairs for a round after few rows violated: the plan's support, the
    new pairs and the :data:`PRUNED_PAIRS` ``* (n + m)`` candidates of least
    reduced cost under the last potentials (the next optimum is a local
    change of the last one)."""
    n, m = len(costs.xs), len(costs.xt)
    reduced = costs.exact(rows, cols, u, v)
    keep = torch.topk(
        reduced, min(len(reduced), PRUNED_PAIRS * (n + m)),
        largest=False).indices
    support_rows, support_cols = _support(plan, rows.device)
    return _unique_pairs(
        torch.cat([support_rows, rows[keep], new_rows]),
        torch.cat([support_cols, cols[keep], new_cols]), m)


def _residual_arcs(
        costs: ReducedCosts, plan: coo_array, u: torch.Tensor, v: torch.Tensor,
        rows: torch.Tensor,
        cols: torch.Tensor) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plan's residual graph on the candidates, arcs as ``(tails, heads,
    lengths)``: nodes are the rows ``0 .. n - 1`` and the columns ``n ..
    n + m - 1``; a candidate pair is an arc column -> row of length its
    reduced cost ``c_ij - u_i - v_j``, a pair of the plan's support an arc
    row -> column of length minus its reduced cost."""
    n = len(costs.xs)
    support_rows, support_cols = _support(plan, rows.device)
    tails = torch.cat([cols + n, support_rows])
    heads = torch.cat([rows, support_cols + n])
    lengths = torch.cat([
        costs.exact(rows, cols, u, v),
        -costs.exact(support_rows, support_cols, u, v)
    ])
    return tails.cpu().numpy(), heads.cpu().numpy(), lengths.cpu().numpy()


def _node_on_cycle(predecessors: np.ndarray) -> Optional[int]:
    """A node on a cycle of the predecessor graph (``-1``: no predecessor),
    found by pointer doubling, or ``None`` if the graph is a forest."""
    nodes = np.arange(len(predecessors))
    jump = np.where(predecessors < 0, nodes, predecessors)
    for _ in range(int(np.log2(len(nodes))) + 1):
        jump = jump[jump]
    on_cycle = jump[predecessors[jump] >= 0]
    return int(on_cycle[0]) if len(on_cycle) else None


def _cycle_length(node: int, predecessors: np.ndarray, tails: np.ndarray,
                  heads: np.ndarray, lengths: np.ndarray) -> float:
    """Total length of the predecessor cycle through ``node``."""
    cycle = [node]
    while predecessors[cycle[-1]] != node:
        cycle.append(predecessors[cycle[-1]])
    cycle = np.array(cycle)
    num_nodes = len(predecessors)
    keys = tails * num_nodes + heads
    order = np.argsort(keys)
    found = np.searchsorted(keys[order],
                            predecessors[cycle] * num_nodes + cycle)
    return float(lengths[order[found]].sum())


def _dijkstra_from(distance: np.ndarray, tails: np.ndarray, heads: np.ndarray,
                   lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Shortest paths over arcs of non-negative length (scipy's Dijkstra)
    from a virtual source joined to each node by an arc of length its
    ``distance``: distances and predecessors (``-1``: the source)."""
    num_nodes = len(distance)
    lowest = distance.min()
    graph = csr_array(
        (np.concatenate([lengths, distance - lowest]),
         (np.concatenate([tails, np.full(num_nodes, num_nodes)]),
          np.concatenate([heads, np.arange(num_nodes)]))),
        shape=(num_nodes + 1, num_nodes + 1))
    reached, previous = dijkstra(
        graph, indices=num_nodes, return_predecessors=True)
    previous = previous[:num_nodes]
    return (reached[:num_nodes] + lowest,
            np.where(previous == num_nodes, -1, previous))


def _shortest_path_shifts(tails: np.ndarray, heads: np.ndarray,
                          lengths: np.ndarray, num_nodes: int,
                          step: float) -> Optional[np.ndarray]:
    """Shortest-path distances to every node from a virtual source joined
    to each by an arc of length 0, or ``None`` if a cycle of length below
    ``-step`` is found or the rounds run out (which only a negative cycle
    makes them do).

    In rounds: the arcs shorter than ``-step`` are relaxed once, then
    every other arc (clamped at 0) by :func:`_dijkstra_from`. A shortest
    path takes each negative arc at most once, so without a negative cycle
    the rounds end after at most one more than there are negative arcs,
    however many arcs the path has (a Bellman-Ford pass per arc, the
    repair this replaced, took up to 1,000 passes and a second each on
    FRRN-A logits). A cycle of the predecessor graph is a negative cycle;
    its length is checked, so float rounding of a tight cycle does not
    end the search. A move smaller than ``step`` along a negative arc is
    not taken.
    """
    negative = lengths < -step
    others = (tails[~negative], heads[~negative],
              np.maximum(lengths[~negative], 0.0))
    tails_n, heads_n, lengths_n = (tails[negative], heads[negative],
                                   lengths[negative])
    distance = np.zeros(num_nodes)
    predecessors = np.full(num_nodes, -1)
    for _ in range(int(negative.sum()) + 1):
        through = distance[tails_n] + lengths_n
        relaxed = distance.copy()
        np.minimum.at(relaxed, heads_n, through)
        moved = relaxed < distance - step
        if not moved.any():
            return distance
        last = moved[heads_n] & (through == relaxed[heads_n])
        predecessors[heads_n[last]] = tails_n[last]
        distance = np.where(moved, relaxed, distance)
        reached, previous = _dijkstra_from(distance, *others)
        shorter = (reached < distance) & (previous >= 0)
        predecessors[shorter] = previous[shorter]
        distance = np.minimum(distance, reached)
        node = _node_on_cycle(predecessors)
        if node is not None and _cycle_length(node, predecessors, tails, heads,
                                              lengths) < -step:
            return None
    return None


def _repaired_potentials(costs: ReducedCosts, plan: coo_array, u: torch.Tensor,
                         v: torch.Tensor, rows: torch.Tensor,
                         cols: torch.Tensor) -> Optional[TensorPair]:
    """Potentials feasible on the candidate pairs and tight on the plan's
    support, from those of a solve on fewer pairs; ``None`` if the plan is
    not optimal on the candidates.

    The solve on fewer pairs gives the plan, whose own potentials are
    degenerate and need not hold off the pairs it did not see. Shifted by
    the shortest-path distances of the plan's residual graph on the
    candidates (:func:`_residual_arcs`, :func:`_shortest_path_shifts`),
    ``u_i + d_i`` and ``v_j - d_{n+j}``, every candidate's reduced cost
    ends above ``-costs.tol / 2`` and every support pair's below
    ``costs.tol / 2`` (within the checks' tolerance; a shift smaller than
    ``costs.tol / 2`` is not taken, so a cycle whose length is float
    rounding of the simplex's optimum does not keep the search going). The
    distances exist when the residual graph has no negative cycle, i.e.
    the plan is optimal on the candidates.
    """
    n = len(costs.xs)
    arcs = _residual_arcs(costs, plan, u, v, rows, cols)
    shifts = _shortest_path_shifts(*arcs, n + len(costs.xt), costs.tol / 2)
    if shifts is None:
        return None
    shifts = torch.from_numpy(shifts).to(u)
    return u + shifts[:n], v - shifts[n:]


def _solve_candidates(
    xs: torch.Tensor, xt: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
    costs: ReducedCosts, rows: torch.Tensor, cols: torch.Tensor,
    potentials: TensorPair, pruned: Optional[TensorPair]
) -> Tuple[coo_array, torch.Tensor, torch.Tensor]:
    """The optimum restricted to the candidates, with potentials feasible
    on them, warm-started from ``potentials``: solved on the ``pruned``
    pairs with repaired potentials where given and the repair succeeds,
    else on every candidate."""
    if pruned is not None:
        plan, u, v = _solve_restricted(xs, xt, a, b, *pruned, potentials)
        repaired = _repaired_potentials(costs, plan, u, v, rows, cols)
        if repaired is not None:
            return (plan, ) + repaired
    return _solve_restricted(xs, xt, a, b, rows, cols, potentials)


def _stalled(violating_rows: int, rows: int, cols: int) -> bool:
    """Whether column generation should hand over to the dense simplex:
    more than :data:`STALLED_ROWS` of the rows violate after the first
    round, and the dense costs fit in :data:`DENSE_FALLBACK_PAIRS`."""
    share = violating_rows / rows
    return share > STALLED_ROWS and rows * cols <= DENSE_FALLBACK_PAIRS


def _unique_pairs(rows: torch.Tensor, cols: torch.Tensor,
                  num_cols: int) -> TensorPair:
    key = torch.unique(rows * num_cols + cols)
    return key // num_cols, key % num_cols


def _dense_with_duals(
    xs: torch.Tensor,
    xt: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    potentials: Optional[TensorPair] = None
) -> Tuple[coo_array, torch.Tensor, torch.Tensor]:
    """Dense network simplex, warm-started from ``potentials`` if given
    (POT's ``potentials_init`` guides the first pivots; the optimum is the
    same)."""
    cost = torch.cdist(xs, xt).pow(2).cpu().numpy()
    init = None if potentials is None else tuple(p.cpu().numpy()
                                                 for p in potentials)
    plan, log = network_simplex(
        a.cpu().numpy(), b.cpu().numpy(), cost, potentials_init=init)
    return (coo_array(plan), torch.from_numpy(log['u']).to(xs.device),
            torch.from_numpy(log['v']).to(xs.device))


def _exact_with_duals(
        xs: torch.Tensor, xt: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
        candidates: int,
        max_rounds: int) -> Tuple[coo_array, torch.Tensor, torch.Tensor]:
    """Optimal plan and dual potentials: dense network simplex for small
    problems, else column generation warm-started from the coarsened
    problem (:func:`_coarse_potentials`, solved the same way)."""
    if len(xs) * len(xt) <= DENSE_PAIRS:
        return _dense_with_duals(xs, xt, a, b)
    forward, backward = ReducedCosts(xs, xt), ReducedCosts(xt, xs)
    v = _coarse_potentials(xs, xt, a, b, candidates, max_rounds)
    u, rows_f, cols_f = forward.row_minima(v, candidates)
    _, cols_b, rows_b = backward.row_minima(u, candidates)
    rows_1d, cols_1d = _feasible_pairs(xs, xt, a, b)
    rows_h, cols_h = _heavy_pairs(a, b, candidates)
    rows, cols = _unique_pairs(
        torch.cat([rows_f, rows_b, rows_1d, rows_h]),
        torch.cat([cols_f, cols_b, cols_1d, cols_h]), len(xt))
    pruned = None
    for round_index in range(max_rounds):
        plan, u, v = _solve_candidates(xs, xt, a, b, forward, rows, cols,
                                       (u, v), pruned)
        new_rows, new_cols = _violations(
            forward, u, v,
            max(candidates, REFINE_CANDIDATES) if round_index else candidates)
        if new_rows is None:
            return plan, u, v
        violating_rows = len(torch.unique(new_rows))
        if round_index == 0 and _stalled(violating_rows, len(xs), len(xt)):
            return _dense_with_duals(xs, xt, a, b, (u, v))
        few = violating_rows <= FEW_VIOLATING_ROWS * len(xs)
        pruned = (
            _pruned_pairs(forward, plan, u, v, rows, cols, new_rows, new_cols)
            if few else None)
        rows, cols = _unique_pairs(
            torch.cat([rows, new_rows]), torch.cat([cols, new_cols]), len(xt))
    raise RuntimeError(f'sparse_emd did not certify optimality in '
                       f'{max_rounds} rounds')


def sparse_emd(xs: torch.Tensor,
               xt: torch.Tensor,
               a: Optional[torch.Tensor] = None,
               b: Optional[torch.Tensor] = None,
               candidates: int = 16,
               max_rounds: int = 200) -> coo_array:
    """Exact squared-L2 optimal transport plan by column generation.

    Multilevel: the dual potentials of an exact solve of the coarsened
    problem (each side's neighbouring points merged in pairs; itself solved
    this way, down to a dense solve of at most :data:`DENSE_PAIRS` pairs)
    give the first candidate pairs, with every
    pair of a point too heavy for its candidates; each round
    solves the problem restricted to the candidates, warm-started from the
    latest potentials (:func:`_solve_restricted`), and adds the pairs that
    violate dual feasibility, until none is left (the optimum is then
    certified); after a round that left at most :data:`FEW_VIOLATING_ROWS`
    of the rows violating, the next solves a pruned problem and repairs its
    potentials on every candidate (:func:`_repaired_potentials`). A level
    whose first round leaves more than
    :data:`STALLED_ROWS` of the rows violating is solved by the dense
    simplex instead, warm-started from that round's potentials (when its
    costs fit in :data:`DENSE_FALLBACK_PAIRS`).

    Args:
        xs (Tensor): ``(n, d)`` float64 source points.
        xt (Tensor): ``(m, d)`` float64 target points.
        a (Tensor, optional): Source weights; uniform by default.
        b (Tensor, optional): Target weights; uniform by default.
        candidates (int): Pairs per row and column in the first candidate
            set and the first round; later rounds add up to
            :data:`REFINE_CANDIDATES` per violating row.
        max_rounds (int): Cap on column-generation rounds per level.

    Returns:
        coo_array: The optimal plan, ``(n, m)``, at most ``n + m - 1``
        non-zeros.
    """
    a = uniform(len(xs), xs) if a is None else a
    b = uniform(len(xt), xt) if b is None else b
    # Costs are shift-invariant; centred points keep the float32 rounding
    # bound of the feasibility checks (and the tolerance) tight.
    centre = torch.cat([xs, xt]).mean(0)
    return _exact_with_duals(xs - centre, xt - centre, a, b, candidates,
                             max_rounds)[0]


def network_simplex(a: np.ndarray, b: np.ndarray, cost,
                    **kwargs) -> Tuple[np.ndarray, dict]:
    """POT's network simplex run to optimality, with its duals.

    Args:
        a (ndarray): Source weights.
        b (ndarray): Target weights.
        cost (ndarray | coo_array): Dense costs, or the costs of the only
            allowed pairs (POT's sparse solver).
        **kwargs: Further ``ot.emd`` arguments.

    Returns:
        tuple: The plan and POT's log (``u``, ``v``, ``cost``, ...).
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        plan, log = ot.emd(
            a, b, cost, numItermax=SIMPLEX_MAX_ITER, log=True, **kwargs)
    if log['result_code'] != 1:
        raise RuntimeError(f'network simplex failed: {log["warning"]}')
    return plan, log


def dense_emd(xs: torch.Tensor, xt: torch.Tensor, a: torch.Tensor,
              b: torch.Tensor) -> np.ndarray:
    """Exact plan by POT's dense network simplex, run to optimality.

    Args:
        xs (Tensor): ``(n, d)`` source points.
        xt (Tensor): ``(m, d)`` target points.
        a (Tensor): Source weights.
        b (Tensor): Target weights.

    Returns:
        ndarray: ``(n, m)`` plan.
    """
    return network_simplex(a.cpu().numpy(),
                           b.cpu().numpy(),
                           torch.cdist(xs, xt).pow(2).cpu().numpy())[0]


def sinkhorn_label_joint(xs: torch.Tensor, ys: torch.Tensor, num_source: int,
                         xt: torch.Tensor, yt: torch.Tensor, num_target: int,
                         eps: float, max_iter: int,
                         tol: float) -> torch.Tensor:
    """Label joint of the entropic plan, never storing the plan.

    POT's lazy log-domain Sinkhorn returns the potentials ``f, g`` of
    ``P_ij = exp(f_i + g_j - C_ij / eps)``; the joint is summed over row
    blocks of ``P``. (The seed's Sinkhorn adds 1e-8 inside the log of the
    marginals; POT does not: a relative change of about 1e-8 x n.)
    """
    f, g, _ = ot.bregman.empirical_sinkhorn(
        xs,
        xt,
        eps,
        uniform(len(xs), xs),
        uniform(len(xt), xt),
        numIterMax=max_iter,
        stopThr=tol,
        isLazy=True,
        batchSize=max(1, BLOCK_ELEMENTS // max(len(xs), len(xt))),
        log=True)
    joint = xs.new_zeros(num_source, num_target)
    target_onehot = torch.nn.functional.one_hot(yt, num_target).to(xs)
    step = max(1, BLOCK_ELEMENTS // len(xt))
    for start in range(0, len(xs), step):
        block = slice(start, start + step)
        cost = torch.cdist(xs[block], xt).pow(2)
        plan = torch.exp(f[block, None] + g[None] - cost / eps)
        joint.index_add_(0, ys[block], plan @ target_onehot)
    return joint


def merge_duplicates(
        x: torch.Tensor, labels: torch.Tensor,
        num_classes: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Identical points as one point with their mass and label shares.

    Transport cost cannot tell identical pixels apart, so with duplicates
    the optimal coupling is not unique and a solver's choice between them
    changes the label joint (OTCE) with the pixels' order. Solving on the
    merged points and splitting each merged point's mass over its pixels in
    proportion (what the entropic plan does as ``eps -> 0``) gives one
    optimal coupling of the pixels, the same in any order.

    Args:
        x (Tensor): ``(n, d)`` points.
        labels (Tensor): ``(n,)`` compact labels.
        num_classes (int): Number of classes.

    Returns:
        tuple: ``(points (u, d), weights (u,) summing to 1, label shares
        (u, num_classes), rows summing to 1)``; points in sorted order.
    """
    points, inverse, counts = torch.unique(
        x, dim=0, return_inverse=True, return_counts=True)
    shares = x.new_zeros(len(points), num_classes).index_put_(
        (inverse, labels), x.new_ones(len(x)), accumulate=True)
    counts = counts.to(x.dtype)
    return points, counts / len(x), shares / counts[:, None]


def plan_label_joint(plan, source_shares: torch.Tensor,
                     target_shares: torch.Tensor) -> torch.Tensor:
    """``J = S^T P T`` of a (sparse or dense) plan between points whose
    labels are given as shares (one-hot rows for single pixels; see
    :func:`merge_duplicates`).

    Args:
        plan (coo_array | ndarray): ``(n, m)`` transport plan.
        source_shares (Tensor): ``(n, C_s)`` label shares of the rows.
        target_shares (Tensor): ``(m, C_t)`` label shares of the columns.

    Returns:
        Tensor: ``(C_s, C_t)`` joint on the shares' device.
    """
    plan = coo_array(plan)
    device = source_shares.device
    rows, cols = _support(plan, device)
    mass = torch.from_numpy(plan.data.astype(np.float64)).to(device)
    return (source_shares[rows].to(mass) * mass[:, None]).T @ (
        target_shares[cols].to(mass))


__all__ = [
    'SOLVERS', 'sparse_emd', 'dense_emd', 'network_simplex',
    'sinkhorn_label_joint', 'merge_duplicates', 'plan_label_joint',
    'ReducedCosts'
]

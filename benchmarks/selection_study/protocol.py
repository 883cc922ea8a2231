"""The selection study's protocol: where its records live, the methods
and search designs it compares, and when each was registered."""
import os.path as osp

#: The repository's root.
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def scenario_config(name: str) -> str:
    """A scenario's config, ``configs/demo/scenario_<name>.yaml``."""
    return osp.join(ROOT, 'configs', 'demo', f'scenario_{name}.yaml')


#: The scenarios the study runs, one config each (``configs/demo/``).
SCENARIOS = [
    scenario_config(name)
    for name in ('default', 'shared_arch', 'six_arch', 'domain_task',
                 'training_length', 'subset_target', 'local_shift', 'zoo_mix',
                 'night_target', 'scale_shift', 'fog_target', 'rain_target')
]
#: One record per finished (scenario, seed) part, committed with the docs,
#: so a report over parts run in other sessions needs no rerun.
RECORDS = osp.join(ROOT, 'docs', 'data', 'selection_study')
#: Records whose truth was continued far beyond the study's budgets
#: (``--probe-truth``): a check of the yardstick, kept out of the study.
PROBES = osp.join(ROOT, 'docs', 'data', 'truth_probe')
# where --docs writes the report and its figures (the ones the docs show)
DOCS_REPORT = osp.join(ROOT, 'docs', 'en', 'selection_report.md')
DOCS_FIGURES = osp.join(ROOT, 'docs', 'figures')
FUSION_RULES = ('rank', 'zscore')
# the fusions' members, fixed before the study (CC-FV is compared alone)
FUSED = ('nce', 'otce', 'leep', 'logme', 'hscore')
CRITERIA = ('spearman', 'kendall', 'weighted_kendall', 'regret',
            'relative_top1', 'top3')
SOURCE_PRIOR, ARCH_PRIOR = 'prior: source mIoU', 'prior: architecture'
# What a user knows of their source data before seeing a target image: does
# it look like the target (the demo's domains, by construction) and does
# it label the target's classes (all 19 > their 7 categories > 6 of them)?
DOMAIN_PRIOR, TASK_PRIOR = 'prior: domain closeness', 'prior: task closeness'
CLOSENESS = {
    DOMAIN_PRIOR: dict(near=3, mid=2, far=1),
    TASK_PRIOR: dict(fine=3, coarse=2, partial=1)
}
# what an n/a in a method's cell means (:func:`criteria_cell`)
NOT_GRADED = ('n/a: the method gives every source of the run one score, or '
              'none, so it cannot rank them (the architecture prior where '
              'they share one family or its history ties theirs; a '
              'closeness prior where the scenario\'s names are not graded).')
# the tool's own fusion member (score_sources --fusion-members ... source-miou)
PRIOR_FUSION = 'fusion-rank + source-miou'
# A candidate added after its figures on these seven scenarios were seen,
# so its left-out figures are optimistic: the architecture prior alone
# ranked well (Spearman 0.89, each run's prior learnt on the others), and of
# two weightings tried in a scratch calculation against the longer truth,
# the prior as one member of six (0.60) and the fused metrics and the prior
# in equal halves (0.76), this is the second (score_sources
# --architecture-history ranked by it until ARCH_LEARNT). Every prior it
# uses is learnt without the left-out scenario.
ARCH_FUSION = 'fusion-zscore + architecture'
# The same with the prior's share learnt on the runs it may learn from
# (evaluation.choose_prior_share over evaluation.PRIOR_SHARES, each past
# run's prior learnt without its own scenario): registered on
# LEARNT_SHARE_REGISTERED, after the equal halves failed on rain_target seed
# 2 (13.9 points) and a hindsight look at the 42 runs stored then (learnt
# left out: 0.9 on every fold; Spearman 0.84 against the halves' 0.72), so
# its left-out figures on those runs are optimistic. The runs stored after
# it test it unseen; the first is rain_target-seed3, running when it was
# registered.
ARCH_LEARNT = 'fusion-zscore + architecture, learnt share'
# (score_sources --architecture-history ranks by it, the share learnt on
# every run: apis.report.HISTORY_PRIOR_SHARE)
LEARNT_SHARE_REGISTERED = '2026-12-05, before rain_target-seed3\'s results'
#: The candidates that learn from a history of past targets.
HISTORY_CANDIDATES = (ARCH_FUSION, ARCH_LEARNT)
# the successive-halving design chosen on the other scenarios (at most a
# quarter of the cost of finetuning every source), one row per rule
DESIGN_ROW = 'halving: design chosen leave-one-scenario-out'
# by the lowest worst-run regret (the protocol's rule until 2026-12-06)
WORST_RULE_ROW = DESIGN_ROW + ', worst-run rule'
# by the lowest mean regret (registered 2026-12-04 before scale_shift seed
# 1's results)
MEAN_RULE_ROW = DESIGN_ROW + ', mean rule'
# by the lowest worst-scenario mean regret (registered 2026-12-06 before
# shared_arch seed 3's results, after the 45 runs before it were seen)
SCENARIO_RULE_ROW = DESIGN_ROW + ', worst-scenario rule'
#: The rules a search design is chosen by (:func:`choose_design`), the
#: analysis' key of each and the cost-table row of its left-out choices.
DESIGN_RULES = dict(
    worst=('worst_rule', WORST_RULE_ROW),
    mean=('mean_rule', MEAN_RULE_ROW),
    scenario=('scenario_rule', SCENARIO_RULE_ROW))
#: The rule of the protocol (each fold's search and the tools' default):
#: the mean rule since 2026-12-06, registered (e99f6dd) before zoo_mix seed
#: 2's results as the steadiest of the three (it moved two folds' designs
#: over the three runs before, the worst-run rule six, the worst-scenario
#: rule eight); the worst-run rule before.
PROTOCOL_RULE = 'mean'
#: How the report words each rule: its name, what it chooses by and its
#: history.
RULE_WORDS = dict(
    worst=('the worst-run rule',
           'the lowest worst-run regret, then the lowest mean regret',
           'the protocol\'s rule until 2026-12-06'),
    mean=('the mean rule',
          'the lowest mean regret, then the lowest worst-run regret',
          'registered on 2026-12-04 before `scale_shift` seed 1\'s results; '
          'the protocol\'s rule since 2026-12-06, registered before '
          '`zoo_mix` seed 2\'s'),
    scenario=('the worst-scenario rule',
              'the lowest worst-scenario regret (a scenario\'s regret the '
              'mean over its runs, its cost their highest), then the lowest '
              'mean regret',
              'registered on 2026-12-06 before `shared_arch` seed 3\'s '
              'results, after the 45 runs before it were seen'))
# the protocol's fold design (the mean rule's) with the metric's pick kept
# from every rung: how the designs registered on KEPT_REGISTERED do where
# the protocol sends a user, whether or not its rule chooses them
KEPT_ROW = MEAN_RULE_ROW + ', the metric\'s pick kept'
# the design select_source.py runs by default (choose_design), chosen on every
# run, so in sample
TOOLS_ROW = "halving: the tools' default design, chosen on every run"
# scenarios written and committed before any of their results (the commit
# that registered each): their folds test the protocol chosen on the others
REGISTERED = {
    'zoo_mix': '11edfc8',
    'night_target': '167e726',
    'scale_shift': 'ae4ec64',
    'fog_target': '3050270',
    'rain_target': 'e63a564'
}
# tools/select_source.py orders candidates by fusion-zscore (it takes no
# architecture history): its default design is the one chosen on every run
# with that fusion seeding every run, against the longer truth (the
# yardstick of every figure) since 2026-12-04, the 1,000-iteration one before
TOOLS_ORDER = 'fusion-zscore'
# Designs whose rungs compare candidates by level (evaluation.level_by,
# the mean validation of a rung's second half) joined the search designs
# in the commit that adds this note, after a hindsight look at the 28 runs
# stored then: of four changes tried there (level, the mean of the three best
# validations, a log-linear extrapolation to the full budget, first rungs
# of 1/5 and 1/4), level alone lowered the closest design's worst scenario
# (1.8 -> 1.2 points). The runs stored after it test it unseen; the first
# is fog_target-seed2, running when it was registered.
LEVEL_REGISTERED = '2026-12-04, before fog_target-seed2\'s results'
#: How the report names each rung score.
SCORE_WORDS = dict(
    best='the best validation so far',
    level=('"ranked by level", the mean validation of the rung\'s second '
           f'half (designs added on {LEVEL_REGISTERED}, after a hindsight '
           'look at the 28 runs stored then, so their left-out figures on '
           'those runs are optimistic)'))
# Designs whose rungs scale the best validation by each architecture's
# expected gain to the full budget (evaluation.ArchitectureGains, learnt on
# the other scenarios' curves, like the architecture prior) joined in the
# commit that adds this note, after a hindsight look at the 30 runs stored
# then: the closest affordable design's worst scenario 1.8 -> 1.6 points,
# its mean 0.73 -> 0.56; finetuning every source to a quarter of the budget
# and picking by the scaled score 1.03 -> 0.56 mean, worst 4.0 -> 2.2. The
# runs stored after it test it unseen; the first is night_target-seed3,
# running when it was registered.
GAIN_REGISTERED = '2026-12-04, before night_target-seed3\'s results'


def halving_row(width: str, first_rung: int) -> str:
    """The cost-table row of a fixed successive-halving strategy: its width
    (``'top 3'``, ``'top half'``, ``'P(best)'``) and first rung."""
    return f'halving: {width}, from {first_rung} it'


# The fixed strategy of the cost table "halving: P(best), from 750 it" (the
# fold's metric order cut to the sources holding 90% of its P(best), rungs
# from a quarter of the budget to the full one, half kept, not scaled),
# simulated on every run since before any design was chosen, registered as
# the candidate for the protocol's search on FIXED_SEARCH_REGISTERED after a
# look at the 51 runs stored then (mean 0.8, worst scenario 1.9, below every
# chosen design's 3.2 to 3.4), so its figures on those runs are hindsight.
# Its unseen tests are the runs named here, registered before their results.
FIXED_SEARCH_ROW = halving_row('P(best)', 750)  # a quarter of 3,000 it
FIXED_SEARCH_REGISTERED = '2026-12-06, before night_target-seed8\'s results'
FIXED_SEARCH_TESTS = ('night_target-seed8', 'subset_target-seed6')
# The rule's verdict when its tests were stored, final: later changes to
# the truth (finetuning seeds added to the tests) are shown beside it and
# do not reopen it (docs/en/selection_log.md, 2026-12-06).
CANDIDATE_VERDICT = (
    'refused on 2026-12-06, when night_target-seed8 was stored: judged by '
    'the other of its two finetuning seeds it lost 1.7 points against the '
    'mean rule\'s 0.6, so it failed the rule whatever subset_target-seed6 '
    'gave')
#: How the report names each kind of design.
SCORE_WORDS['gain'] = (
    '"scaled by past gains", the best validation times its architecture\'s '
    'median gain from the rung to the full budget on the other scenarios '
    f'(designs added on {GAIN_REGISTERED}, after a hindsight look at the 30 '
    'runs stored then, so their left-out figures on those runs are '
    'optimistic)')
# Designs whose search keeps the metric's pick from every rung (a rival
# replaces it only by beating it at a later rung: evaluation.
# successive_halving's keep_first), on the best validation, plain or scaled
# by past gains, joined in the commit that adds this note, after a
# hindsight look at the 59 runs stored then. Seeded by the learnt share
# left out, against the longer truth: of two variants tried (the pick
# replacing the last survivor, or joining the survivors), joining lowered
# night_target's regret with top 2/3, 1/10 to 1/2 of the budget, 1/3
# kept, scaled by past gains (its fold's design) 3.2 -> 2.0 points, the
# mean over the runs 0.89 -> 0.73, at 0.12 -> 0.20 of the iterations; with
# top 2/3, 1/10 to 1/2, 1/2 kept (the tools' default) 4.3 -> 2.2, mean
# 1.21 -> 0.90. The runs stored after it test it unseen; the first is
# night_target-seed9, running when it was registered.
KEPT_REGISTERED = '2026-12-07, before night_target-seed9\'s results'
SCORE_WORDS['kept'] = (
    'the best validation so far with "the metric\'s pick kept", which '
    'continues from every rung (designs added on '
    f'{KEPT_REGISTERED}, after a hindsight look at the 59 runs stored '
    'then, so their left-out figures on those runs are optimistic)')
SCORE_WORDS['gain-kept'] = (
    'scaled by past gains with the metric\'s pick kept (added with the '
    'previous kind)')
#: The kinds of design the study compares, each a rung score, whether it
#: is scaled by past gains and whether the metric's pick continues from
#: every rung (``--rung-scores`` narrows them, e.g. to the 36 designs fixed
#: before the others).
DESIGN_KINDS = {
    'best': ('best', False, False),
    'level': ('level', False, False),
    'gain': ('best', True, False),
    'kept': ('best', False, True),
    'gain-kept': ('best', True, True)
}
DESIGN_SCORES = tuple(DESIGN_KINDS)
LONGER_TOOLS_USE = 'select_source.py\'s default since 2026-12-04'
TOOLS_USE = 'the rule behind select_source.py\'s default until 2026-12-04'

#: The search goal's affordable cost: a quarter of finetuning every source
#: fully, in iterations and in wall time alike (:func:`goal_cost`).
GOAL_COST = 0.25
#: Finetuning every source fully with one seed, judged by the others:
#: what a pick loses to finetuning noise alone.
NOISE_FLOOR = 'finetune all, 1 seed'
#: How every regret of the cost tables is judged.
COST_YARDSTICK = (
    'Regret against cost is judged by the finetuning seeds a strategy did '
    'not run on: a finetuning strategy is simulated on one seed\'s '
    'learning curves and judged by the truth of the other seeds, a '
    'metric\'s pick by each seed\'s turn the same way, so no strategy is '
    'judged by its own luck (its regret is then a little higher than '
    'against the mean over all seeds, which the metric tables use). '
    f'"{NOISE_FLOOR}" is that yardstick\'s noise floor: one seed\'s '
    'full finetuning judged by the others.')

"""Evaluation of transferability rankings (no MMSeg import)."""
from .budget import (RUNG_SCORES, ArchitectureGains, Plateau, SearchDesign,
                     SearchResult, best_by, check_rung_score,
                     choose_search_design, chosen_design_index, curve_budget,
                     level_by, plateau, rung_budgets, rung_value, search_width,
                     seed_agreement, share_count, successive_halving, truth_at)
from .ranking import CORRELATIONS, rank_correlations
from .selection import (CRITERIA, DECISIONS, FUSION_RULES, INTERVAL_CRITERIA,
                        architecture_prior, bootstrap_interval, check_share,
                        decision_criteria, fuse_scores, prior_fusion,
                        probability_best, random_baseline, selection_criteria)
from .study import (PRIOR_SHARES, choose_default, choose_prior_share,
                    leave_one_group_out, mean_interval, summarise_runs)

__all__ = [
    'rank_correlations', 'CORRELATIONS', 'CRITERIA', 'DECISIONS',
    'INTERVAL_CRITERIA', 'FUSION_RULES', 'decision_criteria',
    'selection_criteria', 'bootstrap_interval', 'random_baseline',
    'probability_best', 'architecture_prior', 'fuse_scores', 'summarise_runs',
    'choose_default', 'mean_interval', 'leave_one_group_out', 'best_by',
    'level_by', 'RUNG_SCORES', 'ArchitectureGains', 'check_rung_score',
    'curve_budget', 'Plateau', 'plateau', 'SearchResult', 'rung_budgets',
    'successive_halving', 'rung_value', 'share_count', 'SearchDesign',
    'choose_search_design', 'chosen_design_index', 'search_width', 'truth_at',
    'seed_agreement', 'check_share', 'prior_fusion', 'PRIOR_SHARES',
    'choose_prior_share'
]

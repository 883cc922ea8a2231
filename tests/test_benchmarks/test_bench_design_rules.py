from benchmarks.bench_design_rules import rule_lines


def test_each_rule_names_the_runs_that_move_its_design(one_bad_run):
    """Left out, y-seed0 makes dear affordable for every rule; x-seed0,
    spiky's one bad run, moves the worst-run rule's steady to spiky;
    x-seed1, spiky's good run, moves the worst-scenario rule's spiky to
    steady (x's mean for spiky is then 3.0), and the mean rule's, the
    protocol's, too (spiky 2.0 against steady 1.25)."""
    lines = rule_lines(one_bad_run.points, draws=100)
    assert lines[2].startswith(f'| worst | {one_bad_run.steady.name} | '
                               '2 of 3 (x-seed0, y-seed0) |')
    assert lines[3].startswith(f"| mean (the protocol's) | "
                               f'{one_bad_run.spiky.name} | '
                               '2 of 3 (x-seed1, y-seed0) |')
    assert lines[4].startswith(f'| scenario | {one_bad_run.spiky.name} | '
                               '2 of 3 (x-seed1, y-seed0) |')

"""tools/eval_fences: a scenario is run with the seed (and length) it is given, nothing else changed."""

from roadcam.sim.scenario import SCENARIO_DIR, load_scenario
from roadcam.tools.eval_fences import reseeded


def test_reseeded_scenario_keeps_everything_but_its_seed_and_length(tmp_path):
    source = (SCENARIO_DIR / "fence_stop_line.yaml").read_text()
    original = load_scenario("fence_stop_line")
    path = tmp_path / "fence_stop_line.yaml"
    path.write_text(reseeded(source, 9311, 60))
    changed = load_scenario(path)
    assert (changed.seed, changed.duration_s) == (9311, 60)
    assert changed.model_copy(update={"seed": original.seed, "duration_s": original.duration_s}) == original
    path.write_text(reseeded(source, 9312))
    assert load_scenario(path).duration_s == original.duration_s

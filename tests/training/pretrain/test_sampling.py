"""Task schedules and resumable samplers."""
from __future__ import annotations

from mtpf_deploy.training.pretrain.sampling import EpochSampler, HierarchicalSampler, tasks_for_step


def test_round_robin_alternate_and_proportional_order():
    sizes = {"ner": 10, "tc": 1000}
    assert [tasks_for_step(s, ["ner", "tc"], "round-robin", sizes, 0) for s in range(3)] == [["ner", "tc"]] * 3
    assert [tasks_for_step(s, ["ner", "tc"], "alternate", sizes, 0)[0] for s in range(4)] == ["ner", "tc", "ner", "tc"]
    drawn = [tasks_for_step(s, ["ner", "tc"], "proportional", sizes, 0)[0] for s in range(500)]
    assert 0.95 < drawn.count("tc") / 500 < 1.0
    assert drawn == [tasks_for_step(s, ["ner", "tc"], "proportional", sizes, 0)[0] for s in range(500)]  # seeded
    # round-robin resampling: the small dataset restarts (new epoch) while the large one continues
    small, large = EpochSampler(4, 2, "s"), EpochSampler(100, 2, "l")
    seen_small = [tuple(small.next_batch()) for _ in range(6)]
    assert small.epoch == 2 and sorted(i for b in seen_small[:2] for i in b) == [0, 1, 2, 3]
    first_large = large.next_batch()
    assert len(first_large) == 2 and large.epoch == 0 and large.pos == 2


def test_samplers_resume_exactly():
    h = HierarchicalSampler({"a": 30, "b": 7}, 4, seed=3)
    for _ in range(5):
        h.next_batch()
    state = h.state_dict()
    rest = [h.next_batch() for _ in range(10)]
    again = HierarchicalSampler({"a": 30, "b": 7}, 4, seed=3)
    again.load_state_dict(state)
    assert [again.next_batch() for _ in range(10)] == rest
    names = [HierarchicalSampler({"a": 1000, "b": 10}, 4, seed=s).next_batch()[0] for s in range(200)]
    assert names.count("a") > 180  # size-weighted dataset choice

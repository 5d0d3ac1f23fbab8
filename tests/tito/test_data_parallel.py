"""tito.data_parallel: ranks forked on one machine that add up their numbers.

The oracles are the single-process computations: a loop sum over what each
rank holds, and the gradient of the whole batch at once. A rank other than 0
reports what it saw through a file, since only rank 0 returns.
"""

import json
import sys
import time

import numpy as np
import pytest

from tito import data_parallel
from tito.data_parallel import Team
from tito.errors import TitoError

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="ranks are forked processes on Linux"
)


@pytest.fixture(autouse=True)
def short_wait(monkeypatch):
    monkeypatch.setattr(data_parallel, "WAIT_SECONDS", 30)


def rank_numbers(rank: int) -> list[np.ndarray]:
    rng = np.random.default_rng(rank)
    return [rng.standard_normal((3, 4)).astype(np.float32), np.float32(rank + 1)]


def test_sum_and_average_agree_with_a_loop_on_every_rank(tmp_path):
    def work(team, out):
        totals = []
        for _ in range(3):  # more calls than the two slots used in turn
            totals = team.sum(rank_numbers(team.rank))
        kept = np.full(5, float(team.rank))
        team.average([kept])
        seen = {"matrix": totals[0].tolist(), "scalar": float(totals[1])}
        seen["mean"] = kept.tolist()
        (out / f"rank{team.rank}.json").write_text(json.dumps(seen))
        return seen

    size = 3
    got = Team(size, floats=16).run(work, tmp_path)

    want = sum(rank_numbers(r)[0] for r in range(size))
    assert np.allclose(got["matrix"], want, atol=1e-6)
    assert got["scalar"] == 1 + 2 + 3
    assert got["mean"] == [1.0] * 5  # (0 + 1 + 2) / 3
    for r in range(size):  # every rank holds exactly the same numbers
        assert json.loads((tmp_path / f"rank{r}.json").read_text()) == got


class Param:
    def __init__(self, data):
        self.data, self.grad = data, None


def mean_square_gradient(w, x, y):
    """d/dw of mean((x @ w - y) ** 2), worked by hand."""
    return 2 * x.T @ (x @ w - y) / len(x)


def test_weighted_gradients_add_up_to_the_whole_batch_gradient():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))  # 7 rows
    w = rng.standard_normal((3, 2))

    def work(team):
        rows = team.shard(len(x))
        p = Param(w.copy())
        p.grad = mean_square_gradient(w, x[rows], y[rows])
        unused = Param(np.zeros(4))  # no gradient on any rank: stays zero
        (count,) = team.add_gradients([p, unused], (rows.stop - rows.start) / 7, [1])
        return p.grad, unused.grad, count

    for size in (1, 2, 3):
        grad, unused, count = Team(size, floats=16).run(work)
        assert np.allclose(grad, mean_square_gradient(w, x, y), atol=1e-5)
        assert not unused.any() and count == size


def test_shards_cover_every_row_once():
    for n in (0, 1, 5, 128):
        for size in (1, 2, 3, 8):
            team = Team(1, 1)
            team.size = size  # shard only looks at size and rank
            rows = []
            for team.rank in range(size):
                s = team.shard(n)
                rows += list(range(n))[s]
                assert s.stop - s.start in (n // size, -(-n // size))
            assert rows == list(range(n))


def test_a_failing_worker_stops_the_team_with_a_message(capfd):
    def work(team):
        if team.rank == 1:
            raise RuntimeError("worker broke")
        for _ in range(100):
            team.sum([np.ones(2)])
        return "finished"

    tick = time.perf_counter()
    with pytest.raises(TitoError, match="worker process stopped"):
        Team(2, floats=4).run(work)
    assert time.perf_counter() - tick < 20  # not the full wait
    assert "worker broke" in capfd.readouterr().err  # its traceback is shown


def test_an_error_on_rank_zero_reaches_the_caller_and_stops_the_workers():
    def work(team):
        if team.rank == 0:
            raise KeyError("main broke")
        for _ in range(100):
            team.sum([np.ones(2)])

    tick = time.perf_counter()
    with pytest.raises(KeyError, match="main broke"):
        Team(2, floats=4).run(work)
    assert time.perf_counter() - tick < 20


def test_too_many_numbers_for_the_room_is_an_error():
    with pytest.raises(ValueError, match="room for 3"):
        Team(2, floats=3).run(lambda team: team.sum([np.ones(4)]))

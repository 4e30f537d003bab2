"""The hold model in SimPy, the peer the `sim` engine is compared with.

`pending` processes each wait Exp(mean 1 ms) and start again, so `pending` events are always
outstanding, as in benches/src/hold.rs. Prints events per second (after a warm-up run).

    pip install simpy
    python3 benches/peers/hold_simpy.py PENDING EVENTS
"""

import random
import sys
import time

import simpy

MEAN_HOLD_SECONDS = 1e-3


def run(pending: int, events: int, seed: int) -> float:
    env = simpy.Environment()
    rng = random.Random(seed)
    rate = 1.0 / MEAN_HOLD_SECONDS

    def holder():
        while True:
            yield env.timeout(rng.expovariate(rate))

    for _ in range(pending):
        env.process(holder())
    # Starting the processes costs one event each; run until `events` timeouts have fired.
    for _ in range(pending):
        env.step()
    start = time.perf_counter()
    for _ in range(events):
        env.step()
    return events / (time.perf_counter() - start)


def main() -> None:
    pending, events = int(sys.argv[1]), int(sys.argv[2])
    run(pending, max(events // 10, 1), 1)
    print(run(pending, events, 2))


if __name__ == "__main__":
    main()

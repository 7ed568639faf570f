"""The chaos soak (issue 15): the real CLI in the NAT lab under a seeded fault schedule.

``python3 -m tests.soak --duration 600 --seed 1`` (root; ``make soak``) or the CI variant in
``tests/netns/test_soak.py``. Two services run in ``home`` in forward mode:

* mcje (TCP 25565 -> a Java status server on 127.0.0.1:25566), published by RFC 2136 to a
  real knotd in ``inet`` (203.0.113.30:53, the zone's primary as a provider would run it);
* mcbe (UDP 19132 -> a Bedrock server on 127.0.0.1:19133), published through a webhook
  receiver in ``inet`` (203.0.113.31:8080) that fails a fraction of the requests.

Modules: ``world`` (the lab and everything started in it), ``probes`` (what a player does),
``faults`` (the seeded schedule and the injectors), ``report`` (figures and goals), ``run``.
"""

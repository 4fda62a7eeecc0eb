"""``make bench`` (``python -m bench``): every performance figure of issue 10 in one run.

Each part measures one thing and can run alone (``--only``); ``--quick`` runs it at a size
that only proves it works. ``report`` keeps the figures in ``bench/results.json`` and renders
the README's performance table from them; ``cost`` turns them into dollars per 1,000 frames
with the prices of ``infra/prices.json``.

- ``per-face``, ``per-frame``, ``cold-start``: the model (``bench.model_speed``);
- ``runtime-size``: the inference Lambda's installed requirements (``bench.runtime_size``);
- ``stack``: upload -> observation on the local stack under steady load (``bench.stack_load``);
- ``gpu``: says "not measured" unless a GPU figure exists (``bench.gpu``).
"""

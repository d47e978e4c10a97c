"""Optimizer studies: run a study config, aggregate its runs, test, plot and report.

    jaxopt-lab compare --config configs/studies/seed_table.yaml --out runs/seed_table
    jaxopt-lab report runs/seed_table    # rebuild the report from stored metrics

``load.load_spec`` reads a study into a typed ``StudySpec`` (``spec``); ``runner.run_study`` runs it
through its kind (``kinds.KINDS``: compare, tuning, field, landscapes, second_order, one module
each), whose rows train through the engine (``runsets``); ``report.build_report`` has the kind
compose the report from the stored files and the store (``store``, the only module that touches
a run directory) write ``report.md``, tables (CSV/JSON) and figures. Every number in a report
comes from the stored metrics.
"""

try:  # the [studies] extra: statistics and figures
    import matplotlib  # noqa: F401
    import scipy  # noqa: F401
except ImportError as _error:
    raise ImportError(
        f"jaxopt_lab.studies needs the [studies] extra ({_error}); install it with "
        "pip install 'jaxopt_lab[studies]' (make run and make test install it)"
    ) from _error

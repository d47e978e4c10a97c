"""Optimizer studies: run a study config, aggregate its runs, test, plot and report.

    python scripts/compare.py --config configs/studies/seed_table.yaml --out runs/seed_table
    python scripts/report.py runs/seed_table       # rebuild the report from stored metrics

``compare.run_study`` trains the rows of a study (``spec.load_spec``) through the engine;
``report.build_report`` turns the stored ``metrics.jsonl``/``summary.json`` into ``report.md``,
tables (CSV/JSON) and figures. Every number in a report comes from the stored metrics.
"""

"""Gateway benchmark: flux-remix against a direct call and LiteLLM, on one machine, in one run.

Run `.venv/bin/python -m bench.gateway --help` from the repository root; see docs/performance.md.
"""

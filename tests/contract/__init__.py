"""Contract tier: each store interface's behaviour (bridge/store/interfaces.py),
run over every store backend (tests/contract/conftest.py's BACKENDS); a new
backend must pass it unchanged."""

# Everything runs from the project's own virtualenv; `make test` and `make render` create it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
STACKS := main dev qa

.PHONY: install lint test render bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite on every core (a module's tests stay together, so its fixtures are built once).
test: lint
	$(BIN)/pytest -n auto --dist loadscope

# The offline main job on the sample fleet: render every sample stack into build/, and draw it.
render: install
	@for stack in $(STACKS); do $(BIN)/fleet render $$stack --out build || exit $$?; done
	@$(BIN)/fleet graph main --out build/fleet.svg

# Fleet-scale benchmarks (benchmarks/README.md); several minutes. A smoke check:
# make bench BENCH_ARGS='--quick --fleet sample'
bench: install
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# The picture of the sample fleet that the README shows.
docs/sample-fleet.svg: install Pulumi.main.yaml Pulumi.dev.yaml Pulumi.qa.yaml
	$(BIN)/fleet graph main --out $@

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis

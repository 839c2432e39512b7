# Everything runs from the project's own virtualenv; `make test` and `make render` create it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
STACKS := main dev qa

.PHONY: install lock lint test render bench clean

# Exactly the reviewed dependencies: every package pinned with its hashes in requirements.lock
# (the build backend too, so nothing unpinned is fetched), then the project itself.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

# Re-pin after editing the dependencies in pyproject.toml: resolve from PyPI, with the hashes of
# every file of each pinned release (all platforms). Needs pip-tools: .venv/bin/pip install pip-tools
lock:
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(BIN)/pip-compile --quiet --generate-hashes \
	  --allow-unsafe --extra dev --build-deps-for editable --strip-extras \
	  --index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock pyproject.toml
	@# The project is installed from its folder, not from the lock.
	sed -i -e '/^# WARNING: pip install will require/,/^    # via file:/d' requirements.lock

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

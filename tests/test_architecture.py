"""The house rules of docs/design.md, as dependencies that must never exist."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("panel", "proxmox", "nodes", "servers", "backups", "config")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def source_files(*packages: str):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def offending(paths, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in paths:
        for module in imported_modules(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return sorted(set(found))


def test_the_rules_see_imports():
    """The checker must find a known import, or every rule below passes vacuously."""
    assert offending([ROOT / "nodes" / "services.py"], ("proxmox",)) != []


def test_proxmox_knows_nothing_of_django_or_the_apps():
    """The client production imports is plain Python, without exception."""
    forbidden = ("django", "panel", "nodes", "servers", "backups", "config", "pvesim")
    assert offending(source_files("proxmox"), forbidden) == []


def test_the_simulator_knows_nothing_of_django_or_the_apps():
    forbidden = ("django", "panel", "nodes", "servers", "backups", "config")
    assert offending(source_files("pvesim"), forbidden) == []


def test_the_simulator_stays_out_of_the_production_wheel():
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    included = packages["packages"]["find"]["include"]
    assert "proxmox*" in included
    assert not any(pattern.startswith("pvesim") for pattern in included)


LAYERS = ["views", "forms", "admin", "serializers", "tables", "filtersets"]


@pytest.mark.parametrize("layer", LAYERS)
def test_front_doors_never_talk_to_pve_directly(layer):
    files = [
        p
        for p in source_files("panel", "nodes", "servers", "backups")
        if p.stem == layer or p.parent.name == layer
    ]
    assert offending(files, ("proxmox.client", "proxmox.waiting", "requests")) == []


def test_nodes_does_not_import_servers_or_backups():
    assert offending(source_files("nodes"), ("servers", "backups")) == []


def test_servers_does_not_import_backups():
    assert offending(source_files("servers"), ("backups",)) == []


def test_only_the_simulator_and_tests_import_the_simulator():
    files = list(source_files(*APPS))
    assert offending(files, ("pvesim",)) == []


def test_tasks_hold_no_business_logic():
    """A task module may import the job machinery and services, never the PVE client."""
    files = list((ROOT / "servers").glob("tasks.py")) + list((ROOT / "panel").glob("tasks.py"))
    assert files
    assert offending(files, ("proxmox",)) == []


def test_the_job_engine_knows_no_app():
    """Apps register their job kinds with the engine; the engine never reaches into an app."""
    assert offending(source_files("panel/jobs"), ("nodes", "servers", "backups")) == []


def _declarations() -> list:
    """Every JobDefinition declared in an app's ``jobs.py`` (each object once)."""
    from django.apps import apps

    from panel.jobs import JobDefinition

    found = {}
    for config in apps.get_app_configs():
        if not (Path(config.path) / "jobs.py").exists():
            continue
        module = importlib.import_module(f"{config.name}.jobs")
        for value in vars(module).values():
            if isinstance(value, JobDefinition):
                found[id(value)] = value
    return list(found.values())


def test_every_job_kind_has_exactly_one_declaration_and_it_is_registered():
    from panel.jobs import job_definitions
    from panel.models import JobKind

    declarations = _declarations()
    assert sorted(d.kind for d in declarations) == sorted(JobKind.values)
    registered = job_definitions()
    assert all(registered[d.kind] is d for d in declarations)


def test_every_declared_step_exists_with_its_handler_arguments_and_celery_task():
    from config.celery import app
    from panel.jobs import job_definitions

    app.loader.import_default_modules()  # the tasks modules, as a worker loads them
    for definition in job_definitions().values():
        names = [step.name for step in definition.steps]
        assert len(names) == len(set(names)), f"{definition.kind}: a step name twice"
        for step in definition.steps:
            where = f"{definition.kind}.{step.name}"
            # The handler takes the run and exactly the arguments the declaration gives it.
            inspect.signature(step.handler).bind(None, **step.kwargs)
            assert step.task.name in app.tasks, f"{where}: no Celery task {step.task.name}"
            task = app.tasks[step.task.name]
            options = step.task.celery_options()
            assert (task.soft_time_limit, task.time_limit) == (
                options["soft_time_limit"],
                options["time_limit"],
            ), f"{where}: {task.name} does not have the time limits its declaration derives"
            assert task.acks_late and task.reject_on_worker_lost, where

"""The house rules of docs/design.md, as dependencies that must never exist."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("panel", "proxmox", "nodes", "servers", "backups", "metrics", "traffic", "config")


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
        for p in source_files("panel", "nodes", "servers", "backups", "metrics")
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
    files = [ROOT / app / "tasks.py" for app in ("servers", "panel", "metrics")]
    assert files
    assert offending(files, ("proxmox",)) == []


PRODUCTION = ("panel", "nodes", "servers", "backups", "metrics", "traffic", "config")


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def test_the_tenant_filter_has_one_home():
    """Who may see which server or job is decided by ``restrict(user)`` (panel/querysets.py)
    only, and what one account owns (its SSH keys) by its sibling ``owned_by(user)`` there: no
    other query filters on an owner."""
    found = []
    for path in source_files(*PRODUCTION):
        if path == ROOT / "panel" / "querysets.py":
            continue
        for call in _calls(path):
            if call.func.attr not in ("filter", "exclude", "get"):
                continue
            for keyword in call.keywords:
                lookup = keyword.arg or ""
                if lookup == "owner" or lookup.startswith("owner__") or "__owner" in lookup:
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno} filters on {lookup}")
    assert found == []


def _front_door_files():
    for path in source_files("panel", "nodes", "servers", "backups", "metrics"):
        if path.stem == "views" or path.stem == "filtersets":
            yield path


def test_front_doors_get_servers_and_jobs_through_the_restricted_queryset():
    """A page or API view reads servers and jobs only as ``X.objects.restrict(user)`` (or through
    a selector that does), so another tenant's row is never within reach."""
    found = []
    for path in _front_door_files():
        nodes = list(ast.walk(ast.parse(path.read_text())))
        restricted = {
            id(node.value)
            for node in nodes
            if isinstance(node, ast.Attribute) and node.attr == "restrict"
        }
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in nodes
            if isinstance(node, ast.Attribute)
            and node.attr == "objects"
            and isinstance(node.value, ast.Name)
            and node.value.id in ("Server", "Job")
            and id(node) not in restricted
        ]
    assert found == []


def test_selectors_read_through_the_restricted_queryset():
    for name in ("panel/selectors.py", "servers/selectors.py"):
        source = (ROOT / name).read_text()
        assert ".objects.restrict(user)" in source, name


@pytest.mark.parametrize(
    ("needle", "home"),
    [
        ("{0,61}", "panel/validators.py"),  # the hostname label
        ("2**31 - 1", "panel/validators.py"),  # MAX_DB_INT
        ('"Shut down"', "servers/models.py"),  # the power actions' labels (PowerAction)
        ('"-m", "celery"', "config/celery.py"),  # the worker's command line
    ],
)
def test_each_shared_definition_has_one_home(needle, home):
    files = [*source_files(*PRODUCTION, "demo", "bench"), *sorted((ROOT / "tests").rglob("*.py"))]
    holders = sorted(
        str(p.relative_to(ROOT))
        for p in files
        if needle in p.read_text() and p != Path(__file__).resolve()
    )
    assert holders == [home]


def _string_constants(path: Path):
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node


def test_a_conflict_is_worded_in_one_place():
    """Pages, admin, API and JobConflict itself say "another job is running" with the words of
    panel/jobs/recording.py (conflict_reason, conflict_message), nowhere else."""
    found = []
    for path in source_files(*PRODUCTION):
        relative = path.relative_to(ROOT)
        if relative == Path("panel/jobs/recording.py"):
            continue
        found += [
            f"{relative}:{node.lineno}"
            for node in _string_constants(path)
            if "another job" in node.value.lower()
        ]
    assert found == []


def test_every_api_route_is_in_the_one_router():
    """cookiecutter-django's home: config/api_router.py registers every app's viewsets."""
    from rest_framework.viewsets import ViewSetMixin

    from config import api_router

    assert sorted(p.relative_to(ROOT) for p in ROOT.glob("*/api/urls.py")) == []
    registered = {viewset for _, viewset, _ in api_router.router.registry}
    declared = set()
    for path in ROOT.glob("*/api/views.py"):
        module = __import__(".".join(path.relative_to(ROOT).with_suffix("").parts), fromlist=["x"])
        declared |= {
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, ViewSetMixin)
            and value.__module__ == module.__name__
        }
    assert declared and declared == registered


def test_the_demo_uses_services_not_the_engine():
    """The demo wires the apps together as staff would: through services, never steps or rows."""
    files = list(source_files("demo"))
    assert offending(files, ("servers.steps", "servers.tasks", "panel.jobs")) == []
    assert not any("Server.objects" in p.read_text() for p in files)


def test_the_demo_stays_out_of_production():
    import tomllib

    from config.settings import base

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert not any(p.startswith("demo") for p in packages["packages"]["find"]["include"])
    assert "demo" not in base.INSTALLED_APPS


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

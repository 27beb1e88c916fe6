from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "servers"
    verbose_name = "Servers"

    def ready(self) -> None:
        # Registers how a failed server job is retried (panel.jobs.job_retry), in every process.
        from servers import services  # noqa: F401

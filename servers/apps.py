from django.apps import AppConfig


class ServersConfig(AppConfig):
    name = "servers"
    verbose_name = "Servers"

    def ready(self) -> None:
        # The job kinds (servers/jobs.py) are known in every process, not only in those that
        # happened to import the steps: a web process, a shell or a management command that fails
        # a job runs its failure hook and leaves the server truthful, never stuck "resizing".
        from panel.jobs import register_job_definitions
        from servers.jobs import JOB_DEFINITIONS

        register_job_definitions(*JOB_DEFINITIONS)

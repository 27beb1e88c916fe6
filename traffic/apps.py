from django.apps import AppConfig


class TrafficConfig(AppConfig):
    name = "traffic"
    verbose_name = "Traffic"

    def ready(self) -> None:
        # The traffic quota's job kinds (traffic/jobs.py), known in every process as the servers'.
        from panel.jobs import register_job_definitions
        from traffic.jobs import JOB_DEFINITIONS

        register_job_definitions(*JOB_DEFINITIONS)

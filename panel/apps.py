from django.apps import AppConfig


class PanelConfig(AppConfig):
    name = "panel"
    verbose_name = "Panel"

    def ready(self) -> None:
        from panel import signals  # noqa: F401  (connects the sign-in handler)
